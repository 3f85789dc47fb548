#!/usr/bin/env bash
# Installs everything dipgate needs to build, test and run on Debian bookworm.
# Idempotent and non-interactive: packages already present are not touched.
set -euo pipefail

PACKAGES=(
  # build
  g++ bazel-bootstrap bazel-rules-java bazel-platforms
  # libraries
  libssl-dev libcurl4-openssl-dev librdkafka-dev rapidjson-dev libmicrohttpd-dev libgnutls28-dev
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
  # the demo's Kafka client (deploy/demo.sh: produce, create topics, read records with headers)
  kcat
)

# Packages that come with a system service, needed only as tools or test
# peers; their services must not run: each is installed with starts refused
# (and without its Recommends) and left stopped and disabled.
#  - Apache httpd, a test peer (tests/apache_fixture.h starts its own
#    instances): an endpoint that asks for the client certificate after the
#    handshake, as Azure-hosted DIP endpoints do.
#  - Prometheus, for promtool (checks and unit tests of the alert rules in
#    deploy/prometheus/) and the server the live monitoring test starts on its
#    own port and data directory. Its Recommends (prometheus-node-exporter)
#    are not installed.
TEST_SERVICES=(apache2 prometheus)
# Services of those packages' Recommends: stopped and disabled too if
# something else installed them.
RECOMMENDED_SERVICES=(prometheus-node-exporter)

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=()
for p in "${PACKAGES[@]}"; do
  if ! installed "$p"; then missing+=("$p"); fi
done
missing_services=()
for p in "${TEST_SERVICES[@]}"; do
  if ! installed "$p"; then missing_services+=("$p"); fi
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

if [ ${#missing[@]} -eq 0 ] && [ ${#missing_services[@]} -eq 0 ]; then
  echo "setup: all $(( ${#PACKAGES[@]} + ${#TEST_SERVICES[@]} )) packages present"
else
  $SUDO apt-get update -qq
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Installs the packages with services with every service start refused: a
# policy-rc.d that exits 101 ("action forbidden") for the install, then the
# one that was there before (or none) put back, even if apt fails.
POLICY=/usr/sbin/policy-rc.d
POLICY_SAVED=""
restore_policy() {
  if [ -n "$POLICY_SAVED" ]; then
    $SUDO mv -f "$POLICY_SAVED" "$POLICY"
  else
    $SUDO rm -f "$POLICY"
  fi
}
if [ ${#missing_services[@]} -gt 0 ]; then
  echo "setup: installing ${missing_services[*]} (tools and test peers; service starts refused)"
  if [ -e "$POLICY" ]; then
    POLICY_SAVED="$POLICY.dipgate-saved"
    $SUDO cp -p "$POLICY" "$POLICY_SAVED"
  fi
  trap restore_policy EXIT
  printf '#!/bin/sh\n# dipgate setup.sh: no service starts while test services install.\nexit 101\n' |
    $SUDO tee "$POLICY" >/dev/null
  $SUDO chmod 755 "$POLICY"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing_services[@]}" >/dev/null
  restore_policy
  trap - EXIT
fi

# Left stopped and not started at boot, wherever they came from.
for s in "${TEST_SERVICES[@]}" "${RECOMMENDED_SERVICES[@]}"; do
  installed "$s" || continue
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now "$s" >/dev/null 2>&1 || true
  elif command -v update-rc.d >/dev/null && [ -e "/etc/init.d/$s" ]; then
    $SUDO update-rc.d "$s" disable >/dev/null 2>&1 || true
  fi
done
# The system service runs as `apache2 -k start` (apachectl); the tests'
# own instances run in the foreground with their own -f and are left alone.
SYSTEM_APACHE='^/usr/sbin/apache2 -k start'
if pgrep -f "$SYSTEM_APACHE" >/dev/null; then
  echo "setup: the system apache2 is running; stopping it (tests start their own)"
  $SUDO apache2ctl stop >/dev/null 2>&1 || true
  for _ in 1 2 3 4 5 6 7 8 9 10; do pgrep -f "$SYSTEM_APACHE" >/dev/null || break; sleep 0.5; done
  if pgrep -f "$SYSTEM_APACHE" >/dev/null; then
    echo "setup: the system apache2 still runs (pids $(pgrep -f "$SYSTEM_APACHE" | tr '\n' ' '))" >&2
    exit 1
  fi
fi
# Debian's prometheus and its exporters run as the system user `prometheus`;
# the tests' own Prometheus runs as whoever runs the tests and is left alone.
system_prometheus() {
  id -u prometheus >/dev/null 2>&1 && pgrep -u prometheus >/dev/null
}
if system_prometheus; then
  echo "setup: the system prometheus is running ($(pgrep -u prometheus -l | tr '\n' ' '));" \
    "stopping it (tests start their own)"
  for s in "${TEST_SERVICES[@]}" "${RECOMMENDED_SERVICES[@]}"; do
    case "$s" in prometheus*) ;; *) continue ;; esac
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
      $SUDO systemctl stop "$s" >/dev/null 2>&1 || true
    elif [ -x "/etc/init.d/$s" ]; then
      $SUDO "/etc/init.d/$s" stop >/dev/null 2>&1 || true
    fi
  done
  for _ in 1 2 3 4 5 6 7 8 9 10; do system_prometheus || break; sleep 0.5; done
  if system_prometheus; then
    echo "setup: the system prometheus still runs (pids $(pgrep -u prometheus | tr '\n' ' '))" >&2
    exit 1
  fi
fi
echo "setup: done"
