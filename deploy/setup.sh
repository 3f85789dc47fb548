#!/usr/bin/env bash
# Installs everything dipgate needs to build, test and run on Debian bookworm.
# Idempotent and non-interactive: packages already present are not touched.
set -euo pipefail

PACKAGES=(
  # build
  g++ bazel-bootstrap bazel-rules-java bazel-platforms
  # libraries
  libssl-dev libcurl4-openssl-dev librdkafka-dev rapidjson-dev libmicrohttpd-dev
  libgtest-dev libgmock-dev
  # the real Kafka broker for tests and the demo (jars from Maven Central)
  openjdk-17-jre-headless maven
  # nginx and the sources its module is built against
  nginx nginx-dev
  # independent peers used by the tests, and tools
  openssl python3 python3-cryptography nodejs curl ca-certificates procps
  # the DIP sandbox (tools/dip_standin): the DIP spec's YAML and its schemas
  python3-yaml python3-jsonschema
  # deploy examples checked by the tests (log rotation)
  logrotate
  # Debian packages (deploy/packages.sh) and their checks
  dpkg-dev debhelper lintian
  # benchmarks and fuzzing
  wrk clang libclang-rt-14-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
