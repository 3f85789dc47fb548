#!/usr/bin/env bash
# DIP webhooks into Kafka: nginx (dip_verify) -> dipgate-bridge's inbound
# listener -> a real Kafka broker (acks=all, idempotent), next to the same
# nginx verifying the same webhooks and proxying them to a local no-op
# application, measured in the same run. Prints webhooks/s and messages/s of
# each and their ratio. Not a test.
#
#   bench/inbound_bench.sh [--seconds 15] [--messages-per-webhook 5] [--connections 16]
#
# Each webhook is the public IF-033 sample repeated as an egress array
# (D0 filled), signed once (replay protection off, the bridge's duplicate
# window 0, so every request is produced again).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_RUN=15
PER=5
CONNS=16
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_RUN=$2; shift 2 ;;
    --messages-per-webhook) PER=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    *) echo "usage: $0 [--seconds N] [--messages-per-webhook N] [--connections N]" >&2; exit 2 ;;
  esac
done

bazel build -c opt //kafka_bridge:dipgate-bridge //cli:dipctl //nginx_module:ngx_http_dip_module.so >/dev/null 2>&1
BIN=$(bazel info -c opt bazel-bin 2>/dev/null)
export DIPGATE_KAFKA_LIBS=${DIPGATE_KAFKA_LIBS:-${XDG_CACHE_HOME:-$HOME/.cache}/dipgate/kafka-3.9.1}
W=$(mktemp -d /tmp/dipgate-inbound-bench.XXXXXX)
KAFKA_PORT=19492; NGINX_PORT=19480; APP_PORT=19481; LISTEN=19482; METRICS=19483
cleanup() {
  [ -n "${BRIDGE:-}" ] && kill "$BRIDGE" 2>/dev/null && wait "$BRIDGE" 2>/dev/null
  [ -f "$W/nginx/logs/nginx.pid" ] && nginx -p "$W/nginx" -c "$W/nginx/nginx.conf" -s stop 2>/dev/null
  tests/kafka/kafka.sh stop "$W/kafka" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT

"$BIN/cli/dipctl" pki --out "$W/pki" >/dev/null 2>&1
tests/kafka/kafka.sh start "$W/kafka" $KAFKA_PORT

python3 - "$PER" > "$W/webhook.json" <<'PY'
import json, sys
m = json.load(open("tests/data/if-033-appointment-request.json"))[0]
out = []
for i in range(int(sys.argv[1])):
    p = json.loads(json.dumps(m))
    p["payload"]["CommonBlock"]["D0"] = {
        "transactionID": "T-IF-033-0140321855-SDS-20261201-B%06d" % i,
        "transactionTimestamp": "2026-12-01T10:00:00+00:00", "publicationID": "PUB-033",
        "initialCorrelationID": None, "replayIndicator": False, "serviceTicketURL": None}
    out.append(p)
print(json.dumps(out, separators=(",", ":")))
PY

mkdir -p "$W/nginx/logs" "$W/nginx/tmp"
USER_LINE=""; [ "$(id -u)" = 0 ] && USER_LINE="user root root;"
TRUST="dip_verify on; dip_verify_trusted_certificate $W/pki/ca-bundle.pem; dip_verify_crl $W/pki/crls.pem;
      dip_verify_environment nonprod; dip_verify_window 1h;
      proxy_set_header X-DIP-Verified \$dip_verify_status; proxy_set_header X-DIP-Signer \$dip_signer_subject;"
cat > "$W/nginx/nginx.conf" <<CONF
load_module $BIN/nginx_module/ngx_http_dip_module.so;
$USER_LINE
worker_processes 2;
error_log $W/nginx/logs/error.log warn;
pid $W/nginx/logs/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $W/nginx/tmp/body; proxy_temp_path $W/nginx/tmp/proxy;
  fastcgi_temp_path $W/nginx/tmp/f; uwsgi_temp_path $W/nginx/tmp/u; scgi_temp_path $W/nginx/tmp/s;
  upstream bridge { server 127.0.0.1:$LISTEN; keepalive 32; }
  upstream app { server 127.0.0.1:$APP_PORT; keepalive 32; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    client_max_body_size 4m; client_body_buffer_size 256k;
    proxy_http_version 1.1; proxy_set_header Connection "";
    location /kafka/ { $TRUST proxy_pass http://bridge; }
    location /noop/ { $TRUST proxy_pass http://app; }
  }
  # The no-op application: answers 201 and a StandardResponse-sized body.
  server {
    listen 127.0.0.1:$APP_PORT;
    location / { return 201 '{"messageArray":[],"timestamp":"2026-12-01T10:00:00+00:00"}'; }
  }
}
CONF
nginx -p "$W/nginx" -c "$W/nginx/nginx.conf"

cat > "$W/bridge.json" <<JSON
{
  "kafka": {"bootstrap.servers": "127.0.0.1:$KAFKA_PORT", "linger.ms": 2},
  "inbound": {"listen": "127.0.0.1:$LISTEN", "topic": "bench.{interfaceID}",
              "duplicate_window_s": 0, "max_connections": 128},
  "metrics_listen": "127.0.0.1:$METRICS"
}
JSON
"$BIN/kafka_bridge/dipgate-bridge" --config "$W/bridge.json" 2>"$W/bridge.log" &
BRIDGE=$!
for _ in $(seq 100); do grep -q inbound_listening "$W/bridge.log" && break; sleep 0.1; done

lua() {  # a wrk script POSTing the signed webhook to $1
  local url="http://127.0.0.1:$NGINX_PORT$1"
  "$BIN/cli/dipctl" sign --cert "$W/pki/signer-ec.pem" --key "$W/pki/signer-ec.key" \
      --url "$url" --body "$W/webhook.json" > "$W/headers$2"
  {
    echo 'wrk.method = "POST"'
    echo 'wrk.headers["Content-Type"] = "application/json"'
    sed -E 's/^([^:]+): (.*)$/wrk.headers["\1"] = "\2"/' "$W/headers$2"
    printf 'local f = io.open("%s", "rb"); wrk.body = f:read("*a"); f:close()\n' "$W/webhook.json"
    echo 'done = function(summary, latency, requests)
  local bad = summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %d %d %.0f\n", summary.requests, bad, summary.duration))
end'
  } > "$W/post$2.lua"
  echo "$url"
}

run() {  # path name -> "webhooks/s"
  local url; url=$(lua "$1" "$2")
  # Warm up, then measure.
  wrk -t2 -c"$CONNS" -d2s -s "$W/post$2.lua" "$url" >/dev/null 2>&1 || true
  wrk -t2 -c"$CONNS" -d"${SECONDS_RUN}s" -s "$W/post$2.lua" "$url" > "$W/wrk$2.out" 2>&1
  read -r _ requests bad micros < <(grep RESULT "$W/wrk$2.out")
  if [ "$bad" != 0 ]; then echo "$2: $bad of $requests requests failed" >&2; cat "$W/wrk$2.out" >&2; exit 1; fi
  python3 -c "print(f'{$requests / ($micros / 1e6):.0f}')"
}

echo "webhooks of $PER messages ($(wc -c < "$W/webhook.json") bytes), $CONNS connections, ${SECONDS_RUN}s each, nginx 2 workers"
noop=$(run /noop/if-033 noop)
kafka=$(run /kafka/if-033 kafka)
produced=$(curl -s "127.0.0.1:$METRICS/metrics" | awk '/^dipgate_bridge_inbound_produced_total/ {print $2}')
printf "\n%-44s %12s %12s\n" "path" "webhooks/s" "messages/s"
printf "%-44s %12s %12s\n" "nginx dip_verify -> no-op application" "$noop" "$((noop * PER))"
printf "%-44s %12s %12s\n" "nginx dip_verify -> bridge -> Kafka (acks=all)" "$kafka" "$((kafka * PER))"
python3 -c "print(f'\nratio Kafka path / no-op path: {$kafka / $noop:.2f}')"
echo "records the bridge had Kafka acknowledge: $produced"
