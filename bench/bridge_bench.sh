#!/usr/bin/env bash
# The Kafka bridge end to end: topic -> signed HTTPS POST (RSA-2048, mTLS,
# HTTP/2) -> 2xx -> commit, against a real Kafka broker and nginx as the DIP
# endpoint. Prints messages per second, and the bridge's CPU-seconds per
# delivered message divided by the cost of one RSA-2048 signature from
# `openssl speed` measured in the same run (target <= 1.3). Not a test.
#
#   bench/bridge_bench.sh [--messages 20000] [--soak SECONDS]
#
# --soak: the memory soak. Produce the backlog (e.g. --messages 1000000),
# run the bridge against it for SECONDS and print its RSS every 10 s with
# delivered, buffered and lag: RSS must stay bounded however large the
# backlog (max_buffered_messages, librdkafka's queued.max.messages.kbytes).
set -euo pipefail
cd "$(dirname "$0")/.."
N=20000
SOAK=0
while [ $# -gt 0 ]; do
  case "$1" in
    --messages) N=$2; shift 2 ;;
    --soak) SOAK=$2; shift 2 ;;
    *) echo "usage: $0 [--messages N] [--soak SECONDS]" >&2; exit 2 ;;
  esac
done

bazel build -c opt //kafka_bridge:dipgate-bridge //bench:produce //cli:dipctl >/dev/null 2>&1
BIN=$(bazel info -c opt bazel-bin 2>/dev/null)
export DIPGATE_KAFKA_LIBS=${DIPGATE_KAFKA_LIBS:-${XDG_CACHE_HOME:-$HOME/.cache}/dipgate/kafka-3.9.1}
W=$(mktemp -d /tmp/dipgate-bridge-bench.XXXXXX)
KAFKA_PORT=19392; DIP_PORT=19443; METRICS=19464
cleanup() {
  [ -n "${BRIDGE:-}" ] && kill "$BRIDGE" 2>/dev/null && wait "$BRIDGE" 2>/dev/null
  [ -f "$W/nginx/logs/nginx.pid" ] && nginx -p "$W/nginx" -c "$W/nginx/nginx.conf" -s stop 2>/dev/null
  tests/kafka/kafka.sh stop "$W/kafka" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT

"$BIN/cli/dipctl" pki --out "$W/pki" >/dev/null 2>&1
tests/kafka/kafka.sh start "$W/kafka" $KAFKA_PORT
mkdir -p "$W/nginx/logs" "$W/nginx/tmp"
USER_LINE=""; [ "$(id -u)" = 0 ] && USER_LINE="user root root;"
cat > "$W/nginx/nginx.conf" <<CONF
$USER_LINE
worker_processes 1;
error_log $W/nginx/logs/error.log warn;
pid $W/nginx/logs/nginx.pid;
events { worker_connections 1024; }
http {
  log_format conn '\$connection \$connection_requests';
  access_log $W/nginx/logs/access.log conn;
  client_body_temp_path $W/nginx/tmp/body; proxy_temp_path $W/nginx/tmp/proxy;
  fastcgi_temp_path $W/nginx/tmp/f; uwsgi_temp_path $W/nginx/tmp/u; scgi_temp_path $W/nginx/tmp/s;
  server {
    listen 127.0.0.1:$DIP_PORT ssl http2;
    ssl_certificate $W/pki/tls-server.pem;
    ssl_certificate_key $W/pki/tls-server.key;
    ssl_client_certificate $W/pki/ca-bundle.pem;
    ssl_verify_client on;
    location / { client_max_body_size 1m; client_body_buffer_size 64k; return 202 "accepted\n"; }
  }
}
CONF
nginx -p "$W/nginx" -c "$W/nginx/nginx.conf"
cat > "$W/bridge.json" <<JSON
{
  "kafka": {"bootstrap.servers": "127.0.0.1:$KAFKA_PORT", "group.id": "bench", "fetch.wait.max.ms": 10},
  "identities": [{"name": "mp", "certificate": "$W/pki/${DIPGATE_BENCH_SIGNER:-signer-rsa}.pem", "key": "$W/pki/${DIPGATE_BENCH_SIGNER:-signer-rsa}.key",
                  "dip_ids": ["8795183096"]}],
  "routes": [{"topic": "bench", "url": "https://localhost:$DIP_PORT/api/v1/{interfaceID}"}],
  "tls": {"client_certificate": "$W/pki/tls-client.pem", "client_key": "$W/pki/tls-client.key",
          "ca": "$W/pki/ca-bundle.pem"},
  "dead_letter_topic": "bench-dlq",
  "max_in_flight": 4,
  "max_buffered_messages": 2000,
  "metrics_listen": "127.0.0.1:$METRICS",
  "http2": ${DIPGATE_BENCH_HTTP2:-true}
}
JSON
echo "producing $N messages ($(wc -c < tests/data/if-033-appointment-request.json) bytes each, 64 keys)"
"$BIN/bench/produce" 127.0.0.1:$KAFKA_PORT bench "$N" tests/data/if-033-appointment-request.json

"$BIN/kafka_bridge/dipgate-bridge" --config "$W/bridge.json" 2>"$W/bridge.log" &
BRIDGE=$!
if [ -n "${DIPGATE_BENCH_IDLE:-}" ]; then
  sleep 3; c0=$(awk '{print $14 + $15}' /proc/$BRIDGE/stat); sleep 5; c1=$(awk '{print $14 + $15}' /proc/$BRIDGE/stat)
  echo "idle bridge CPU over 5 s: $(( (c1 - c0) * 10 )) ms"
fi
metric() { curl -s "http://127.0.0.1:$METRICS/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
if [ "$SOAK" -gt 0 ]; then
  echo "soak: bridge against a backlog of $N messages for $SOAK s (RSS every 10 s)"
  rss_first=""; rss_max=0
  for t in $(seq 10 10 "$SOAK"); do
    sleep 10
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$BRIDGE/status")
    [ -z "$rss_first" ] && rss_first=$rss
    [ "$rss" -gt "$rss_max" ] && rss_max=$rss
    printf "t=%4ds RSS %7d kB  delivered %8s  buffered %5s  lag %8s  fds %s\n" "$t" "$rss" \
      "$(metric dipgate_bridge_delivered_total)" "$(metric dipgate_bridge_buffered)" \
      "$(metric dipgate_bridge_lag)" "$(ls /proc/$BRIDGE/fd | wc -l)"
  done
  echo "soak: RSS at 10 s ${rss_first} kB, at ${SOAK} s ${rss} kB, peak ${rss_max} kB; growth after the first sample $((rss - rss_first)) kB"
  exit 0
fi
start=$(date +%s.%N)
[ -n "${DIPGATE_BENCH_PROFILE:-}" ] && perf record -e cpu-clock -g -o "$DIPGATE_BENCH_PROFILE" -p "$BRIDGE" -- sleep 5 &
delivered=0
while [ "$delivered" -lt "$N" ]; do
  sleep 0.2
  delivered=$(curl -s "http://127.0.0.1:$METRICS/metrics" | awk '/^dipgate_bridge_delivered_total/ {print $2}')
  delivered=${delivered:-0}
done
end=$(date +%s.%N)
ticks=$(getconf CLK_TCK)
cpu=$(awk -v t="$ticks" '{print ($14 + $15) / t}' "/proc/$BRIDGE/stat")
split=$(awk -v t="$ticks" '{printf "user %.2f s, system %.2f s", $14 / t, $15 / t}' "/proc/$BRIDGE/stat")
rsa=$(openssl speed -mr -seconds 3 rsa2048 2>/dev/null | awk -F: '/^\+F2:/ {print $4}')
awk -v n="$N" -v s="$start" -v e="$end" -v cpu="$cpu" -v rsa="$rsa" -v cpusplit="$split" 'BEGIN {
  secs = e - s; per = cpu / n; sign = 1 / rsa;
  printf "delivered %d messages in %.1f s: %.0f messages/s end to end\n", n, secs, n / secs;
  printf "bridge CPU: %.2f s in all (%s), %.1f us per message\n", cpu, cpusplit, per * 1e6;
  printf "openssl speed rsa2048: %.0f signs/s, %.1f us per signature\n", rsa, sign * 1e6;
  printf "bridge CPU per message / one RSA-2048 signature: %.2f (target <= 1.3)\n", per / sign;
}'
connections=$(awk '{print $1}' "$W/nginx/logs/access.log" | sort -u | wc -l)
echo "TLS connections used: $connections for $N messages"
