#!/usr/bin/env bash
# Runs Debian's nginx configure (the exact flags of the stock binary, from
# nginx-dev's conf_flags) with this module added, and copies out what a
# dynamic module build needs: the generated config headers and the module
# list. Used by the Bazel build; a conventional build runs configure itself.
#   configure_nginx.sh NGINX_SRC_DIR MODULE_CONFIG OUT_DIR
set -euo pipefail
src=$(cd "$1" && pwd)
config=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
out=$(mkdir -p "$3" && cd "$3" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -rL "$src"/. "$work/"
mkdir -p "$work/dipgate_module"
cp "$config" "$work/dipgate_module/config"
cd "$work"
# shellcheck disable=SC1091
source ./conf_flags
DIPGATE_BAZEL=1 ./configure "${NGX_CONF_FLAGS[@]}" --add-dynamic-module="$work/dipgate_module" >configure.log 2>&1 ||
  { cat configure.log >&2; exit 1; }
cp objs/ngx_auto_config.h objs/ngx_auto_headers.h objs/ngx_http_dip_module_modules.c "$out/"
