#!/usr/bin/env bash
# The Kafka bridge end to end: topic -> signed DIPMessageArray POST
# (RSA-2048, mTLS, HTTP/2) -> 201 StandardResponse -> commit, against a real
# Kafka broker, with nginx (mutual TLS, HTTP/2) in front of a DIP ingress
# stand-in that answers after a latency (bench/dip_endpoint). Prints
# messages per second against the signing ceiling (`openssl speed` RSA-2048
# signs/s, same run), the bridge's CPU per message against one RSA-2048
# signature, and the average number of records and POSTs in flight. Not a
# test.
#
#   bench/bridge_bench.sh [--messages 20000] [--latency MS] [--partitions P]
#                         [--keys K] [--batch B] [--in-flight N] [--soak SECONDS]
#
# Defaults: no latency, 3 partitions, 64 keys, batch 1, 64 in flight.
# The issue's targets: --latency 50 --partitions 1 --keys 64 --batch 1 at
# >= 0.7 of the signing ceiling; --latency 0 --batch 1 at <= 1.3 signatures
# of CPU per message.
#
# Environment: DIPGATE_BENCH_HTTP2=false (HTTP/1.1), DIPGATE_BENCH_EXPECT=0
# (no "Expect: 100-continue" for large POSTs; default 65536 bytes),
# DIPGATE_BENCH_SIGNER=signer-ec (P-256 instead of RSA-2048).
#
# --soak: the memory soak. Produce the backlog (e.g. --messages 1000000),
# run the bridge against it for SECONDS and print its RSS every 10 s with
# delivered, buffered and lag: RSS must stay bounded however large the
# backlog (max_buffered_messages, librdkafka's queued.max.messages.kbytes).
set -euo pipefail
cd "$(dirname "$0")/.."
N=20000
SOAK=0
LATENCY=0
PARTITIONS=3
KEYS=64
BATCH=1
IN_FLIGHT=64
usage() {
  echo "usage: $0 [--messages N] [--latency MS] [--partitions P] [--keys K] [--batch B] [--in-flight N] [--soak SECONDS]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || usage
  case "$1" in
    --messages) N=$2 ;;
    --soak) SOAK=$2 ;;
    --latency) LATENCY=$2 ;;
    --partitions) PARTITIONS=$2 ;;
    --keys) KEYS=$2 ;;
    --batch) BATCH=$2 ;;
    --in-flight) IN_FLIGHT=$2 ;;
    *) usage ;;
  esac
  shift 2
done

bazel build -c opt //kafka_bridge:dipgate-bridge //bench:produce //bench:dip_endpoint //cli:dipctl >/dev/null 2>&1
BIN=$(bazel info -c opt bazel-bin 2>/dev/null)
export DIPGATE_KAFKA_LIBS=${DIPGATE_KAFKA_LIBS:-${XDG_CACHE_HOME:-$HOME/.cache}/dipgate/kafka-3.9.1}
W=$(mktemp -d /tmp/dipgate-bridge-bench.XXXXXX)
KAFKA_PORT=19392; DIP_PORT=19443; METRICS=19464; ENDPOINT_PORT=19480
cleanup() {
  [ -n "${BRIDGE:-}" ] && kill "$BRIDGE" 2>/dev/null && wait "$BRIDGE" 2>/dev/null
  [ -n "${ENDPOINT:-}" ] && kill "$ENDPOINT" 2>/dev/null && wait "$ENDPOINT" 2>/dev/null
  [ -f "$W/nginx/logs/nginx.pid" ] && nginx -p "$W/nginx" -c "$W/nginx/nginx.conf" -s stop 2>/dev/null
  tests/kafka/kafka.sh stop "$W/kafka" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT

"$BIN/cli/dipctl" pki --out "$W/pki" >/dev/null 2>&1
tests/kafka/kafka.sh start "$W/kafka" $KAFKA_PORT
"$BIN/bench/dip_endpoint" $ENDPOINT_PORT "$LATENCY" &
ENDPOINT=$!
mkdir -p "$W/nginx/logs" "$W/nginx/tmp"
USER_LINE=""; [ "$(id -u)" = 0 ] && USER_LINE="user root root;"
cat > "$W/nginx/nginx.conf" <<CONF
$USER_LINE
worker_processes 1;
error_log $W/nginx/logs/error.log warn;
pid $W/nginx/logs/nginx.pid;
events { worker_connections 4096; }
http {
  log_format conn '\$connection \$connection_requests \$request_time';
  access_log $W/nginx/logs/access.log conn buffer=64k flush=1s;
  client_body_temp_path $W/nginx/tmp/body; proxy_temp_path $W/nginx/tmp/proxy;
  fastcgi_temp_path $W/nginx/tmp/f; uwsgi_temp_path $W/nginx/tmp/u; scgi_temp_path $W/nginx/tmp/s;
  upstream dip { server 127.0.0.1:$ENDPOINT_PORT; keepalive 512; }
  server {
    listen 127.0.0.1:$DIP_PORT ssl http2;
    ssl_certificate $W/pki/tls-server.pem;
    ssl_certificate_key $W/pki/tls-server.key;
    ssl_client_certificate $W/pki/ca-bundle.pem;
    ssl_verify_client on;
    http2_max_concurrent_streams 1024;
    keepalive_requests 1000000;
    location /dip-channel/ {
      client_max_body_size 64m; client_body_buffer_size 1m;
      proxy_pass http://dip; proxy_http_version 1.1; proxy_set_header Connection "";
    }
  }
}
CONF
nginx -p "$W/nginx" -c "$W/nginx/nginx.conf"
cat > "$W/bridge.json" <<JSON
{
  "kafka": {"bootstrap.servers": "127.0.0.1:$KAFKA_PORT", "group.id": "bench", "fetch.wait.max.ms": 10},
  "identities": [{"name": "mp", "certificate": "$W/pki/${DIPGATE_BENCH_SIGNER:-signer-rsa}.pem", "key": "$W/pki/${DIPGATE_BENCH_SIGNER:-signer-rsa}.key",
                  "dip_ids": ["8795183096"]}],
  "dip_base_url": "https://localhost:$DIP_PORT",
  "routes": [{"topic": "bench"}],
  "tls": {"client_certificate": "$W/pki/tls-client.pem", "client_key": "$W/pki/tls-client.key",
          "ca": "$W/pki/ca-bundle.pem"},
  "dead_letter_topic": "bench-dlq",
  "batch": {"max_messages": $BATCH, "linger_ms": $([ "$BATCH" -gt 1 ] && echo 5 || echo 0)},
  "max_in_flight": $IN_FLIGHT,
  "max_buffered_messages": $(( IN_FLIGHT * 4 > 2000 ? IN_FLIGHT * 4 : 2000 )),
  "max_connections": 64,
  "metrics_listen": "127.0.0.1:$METRICS",
  "http2": ${DIPGATE_BENCH_HTTP2:-true},
  "expect_continue_bytes": ${DIPGATE_BENCH_EXPECT:-65536}
}
JSON
echo "producing $N messages ($(wc -c < tests/data/if-033-appointment-request.json) bytes each) over $KEYS keys to $PARTITIONS partitions"
"$BIN/bench/produce" 127.0.0.1:$KAFKA_PORT bench "$N" tests/data/if-033-appointment-request.json "$PARTITIONS" "$KEYS"
echo "DIP latency ${LATENCY} ms, batch $BATCH, max_in_flight $IN_FLIGHT"

# The reference, measured before and after the bridge's run: `openssl
# speed` varies by a quarter between runs on a shared machine, and the
# ratios use the mean of the two.
rsa_speed() { openssl speed -mr -seconds 3 "$@" rsa2048 2>/dev/null | awk -F: '/^\+F2:/ {print $4}'; }
rsa_before=$(rsa_speed)
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
# Timed from the first delivery (the bridge has joined the group and
# fetched) to the last: the rate and CPU of delivery, not of start-up.
launched=$(date +%s.%N)
ticks=$(getconf CLK_TCK)
cpu_now() { awk -v t="$ticks" '{print ($14 + $15) / t}' "/proc/$BRIDGE/stat"; }
[ -n "${DIPGATE_BENCH_PROFILE:-}" ] && perf record -e cpu-clock -g -o "$DIPGATE_BENCH_PROFILE" -p "$BRIDGE" -- sleep 5 &
delivered=0; first=""; samples=0; records_sum=0; posts_sum=0
while [ "$delivered" -lt "$N" ]; do
  sleep 0.2
  m=$(curl -s "http://127.0.0.1:$METRICS/metrics" || true)  # not listening yet
  delivered=$(echo "$m" | awk '$1 == "dipgate_bridge_delivered_total" {print $2}')
  delivered=${delivered:-0}
  if [ -z "$first" ] && [ "$delivered" -gt 0 ]; then
    first=$delivered; start=$(date +%s.%N); cpu_start=$(cpu_now)
  elif [ "$delivered" -gt 0 ] && [ "$delivered" -lt "$N" ]; then
    samples=$((samples + 1))
    records_sum=$((records_sum + $(echo "$m" | awk '$1 == "dipgate_bridge_in_flight" {print $2}')))
    posts_sum=$((posts_sum + $(echo "$m" | awk '$1 == "dipgate_bridge_requests_in_flight" {print $2}')))
  fi
done
end=$(date +%s.%N)
# Most of it delivered by the first sample (a short run): timed from the
# bridge's start instead.
if [ $((N - first)) -lt $((N / 10)) ]; then first=0; start=$launched; cpu_start=0; fi
posts=$(metric dipgate_bridge_posts_total)
cpu_all=$(cpu_now)
cpu=$(awk -v a="$cpu_all" -v b="$cpu_start" 'BEGIN {print a - b}')
split=$(awk -v t="$ticks" '{printf "user %.2f s, system %.2f s", $14 / t, $15 / t}' "/proc/$BRIDGE/stat")
kill "$BRIDGE"; wait "$BRIDGE" 2>/dev/null || true; BRIDGE=""
rsa_after=$(rsa_speed)
rsa=$(awk -v a="$rsa_before" -v b="$rsa_after" 'BEGIN {print (a + b) / 2}')
rsa_all=$(rsa_speed -multi "$(nproc)")
awk -v n="$N" -v first="$first" -v launched="$launched" -v s="$start" -v e="$end" -v cpu="$cpu" -v cpu_all="$cpu_all" -v rsa="$rsa" -v rsa_all="$rsa_all" -v rsa_before="$rsa_before" -v rsa_after="$rsa_after" \
    -v cpusplit="$split" -v samples="$samples" -v records="$records_sum" -v posts_in="$posts_sum" \
    -v posts="$posts" -v cores="$(nproc)" 'BEGIN {
  timed = n - first; secs = e - s; per = cpu / timed; sign = 1 / rsa; rate = timed / secs;
  printf "delivered %d messages in %.1f s from the bridge'"'"'s start (%.0f messages/s, %.1f s of CPU)\n", n, e - launched, n / (e - launched), cpu_all;
  printf "from the first delivery: %d messages in %.1f s: %.0f messages/s (%d POSTs in all)\n", timed, secs, rate, posts;
  printf "openssl speed rsa2048: %.0f signs/s on one core (%.0f before, %.0f after), %.0f on %d cores\n", rsa, rsa_before, rsa_after, rsa_all, cores;
  printf "messages/s / signing ceiling (one core): %.2f; (all cores): %.2f\n", rate / rsa, rate / rsa_all;
  printf "bridge CPU from the first delivery: %.2f s (whole run: %s), %.1f us per message\n", cpu, cpusplit, per * 1e6;
  printf "bridge CPU per message / one RSA-2048 signature: %.2f\n", per / sign;
  if (samples > 0) printf "in flight on average: %.1f records, %.1f POSTs\n", records / samples, posts_in / samples;
}'
connections=$(awk '{print $1}' "$W/nginx/logs/access.log" | sort -u | wc -l)
echo "TLS connections used: $connections for $posts POSTs"
awk '{t += $3; n++} END {if (n) printf "time at nginx per POST (request_time): %.1f ms on average\n", 1000 * t / n}' "$W/nginx/logs/access.log"
