#!/usr/bin/env bash
# Builds dipgate's Debian packages for bookworm, offline, version from VERSION:
#
#   libnginx-mod-http-dip   the nginx module, enabled in /etc/nginx/modules-enabled,
#                           bound to the nginx ABI it was built for (nginx-abi-*)
#   dipgate-bridge          the Kafka bridge, its system user and systemd unit,
#                           /etc/dipgate (example bridge.json), the CRL refresh job and timer
#   dipctl                  the CLI and the DIP API schemas (/usr/share/dipgate/schemas)
#
#   deploy/packages.sh [OUTDIR]                  bazel build -c opt, then package into
#                                                OUTDIR (default build/packages)
#   deploy/packages.sh --prebuilt DIR [OUTDIR]   package what is built already: DIR holds
#                                                cli/dipctl, kafka_bridge/dipgate-bridge,
#                                                nginx_module/ngx_http_dip_module.so and
#                                                third_party/dip_api/schemas (a bazel-bin,
#                                                or a test's runfiles)
#
# Packaging: deploy/debian (debhelper, dh_nginx from nginx-dev); the units,
# bridge.json, CRL job and logrotate file come from deploy/ as they are.
# Needs dpkg-dev, debhelper and nginx-dev (deploy/setup.sh). Prints the path
# of each .deb; `apt install ./OUTDIR/*.deb` installs them.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
prebuilt=""
if [ "${1:-}" = "--prebuilt" ]; then
  [ $# -ge 2 ] || { echo "usage: $0 [--prebuilt DIR] [OUTDIR]" >&2; exit 2; }
  prebuilt=$(cd "$2" && pwd)
  shift 2
fi
[ $# -le 1 ] || { echo "usage: $0 [--prebuilt DIR] [OUTDIR]" >&2; exit 2; }
out=${1:-$repo/build/packages}
log() { echo "packages: $*" >&2; }

version=$(tr -d ' \n' < "$repo/VERSION")
if ! [[ "$version" =~ ^[0-9][A-Za-z0-9.+~]*$ ]]; then
  log "VERSION holds '$version', not a Debian native version"
  exit 2
fi

if [ -z "$prebuilt" ]; then
  log "building with Bazel (-c opt)"
  (cd "$repo" && bazel build -c opt //cli:dipctl //kafka_bridge:dipgate-bridge \
     //nginx_module:ngx_http_dip_module.so //third_party/dip_api:schemas)
  prebuilt=$(cd "$repo" && bazel info -c opt bazel-bin 2>/dev/null)
fi
for f in cli/dipctl kafka_bridge/dipgate-bridge nginx_module/ngx_http_dip_module.so \
         third_party/dip_api/schemas/index.json; do
  [ -e "$prebuilt/$f" ] || { log "missing $prebuilt/$f"; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/dipgate-packages.XXXXXX")
trap 'rm -rf "$work"' EXIT
src="$work/dipgate-$version"
mkdir -p "$src/build" "$src/deploy" "$src/docs"

# The source tree dpkg-buildpackage sees: debian/, build/ (Bazel's outputs),
# deploy/ and docs/. Copies, not links (a test's runfiles are links).
cp -RL "$repo/deploy/debian" "$src/debian"
rm -f "$src/debian/BUILD.bazel"
install -m 0755 "$prebuilt/cli/dipctl" "$prebuilt/kafka_bridge/dipgate-bridge" "$src/build/"
install -m 0644 "$prebuilt/nginx_module/ngx_http_dip_module.so" "$src/build/"
cp -RL "$prebuilt/third_party/dip_api/schemas" "$src/build/schemas"
for f in bridge/bridge.json crl/dipgate-crl-refresh logrotate/dipgate nginx/dip-inbound.conf \
         nginx/dip-outbound.conf systemd/dipgate-bridge.service \
         systemd/dipgate-crl-refresh.service systemd/dipgate-crl-refresh.timer \
         prometheus/dipgate-rules.yml prometheus/dipgate-rules.test.yml grafana/dipgate.json; do
  mkdir -p "$src/deploy/$(dirname "$f")"
  cp -L "$repo/deploy/$f" "$src/deploy/$f"
done
for f in nginx.md kafka-bridge.md operator-guide.md dip-api.md; do
  cp -L "$repo/docs/$f" "$src/docs/$f"
done
chmod -R u+w,go-w,a+rX "$src"
find "$src" -type f -exec chmod 0644 {} +
chmod 0755 "$src/build/dipctl" "$src/build/dipgate-bridge" "$src/deploy/crl/dipgate-crl-refresh" \
  "$src/debian/rules"

# debian/changelog from VERSION; dated by SOURCE_DATE_EPOCH, else the last
# commit, else VERSION's modification time (reproducible either way).
commit=""
if git -C "$repo" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  commit=$(git -C "$repo" log -1 --format=%h 2>/dev/null || true)
  : "${SOURCE_DATE_EPOCH:=$(git -C "$repo" log -1 --format=%ct 2>/dev/null || true)}"
fi
: "${SOURCE_DATE_EPOCH:=$(stat -L -c %Y "$repo/VERSION")}"
export SOURCE_DATE_EPOCH
maintainer=$(sed -n 's/^Maintainer: //p' "$src/debian/control")
{
  echo "dipgate ($version) bookworm; urgency=medium"
  echo
  echo "  * dipgate $version${commit:+ (commit $commit)}, built with Bazel and packaged"
  echo "    by deploy/packages.sh."
  echo
  echo " -- $maintainer  $(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")"
} > "$src/debian/changelog"

log "packaging dipgate $version"
if ! (cd "$src" && dpkg-buildpackage --build=binary --no-sign) > "$work/build.log" 2>&1; then
  cat "$work/build.log" >&2
  log "dpkg-buildpackage failed"
  exit 1
fi
mkdir -p "$out"
for deb in "$work"/*.deb; do
  cp "$deb" "$out/"
  echo "$out/$(basename "$deb")"
done
