#!/usr/bin/env bash
# The whole system, end to end, on local defaults and with no outside service:
#
#   1. sets up the machine (deploy/setup.sh) and builds dipgate
#   2. creates a test PKI shaped like the DIP CA (root, issuing CA, signing
#      and TLS certificates, CRLs)
#   3. starts a real Kafka broker, a DIP stand-in (tools/dip_standin: an mTLS
#      HTTPS ingress that verifies every signature independently and sends
#      signed webhooks), a local application, nginx with the dipgate module
#      (inbound: verify; outbound: sign) and the Kafka bridge
#   4. pushes the sample DIP messages through Kafka -> bridge -> DIP, sends
#      one through nginx's signing gateway, delivers a DIP webhook through
#      nginx's verification to the application, and shows a tampered webhook
#      and one signed with a revoked certificate being refused
#   5. stops everything (also on Ctrl-C) and says what happened at each hop.
#
#   deploy/demo.sh [--keep]      --keep leaves the working directory (logs,
#                                PKI, configs) for inspection
#
# Exit status 0 when every hop behaved as expected. The tests run it with
# DIPGATE_DEMO_PREBUILT=1 and DIPCTL, DIPGATE_BRIDGE, DIPGATE_MODULE and
# DIPGATE_PRODUCE naming binaries they built (no setup, no build), and
# DIPGATE_NGINX the nginx command (default /usr/sbin/nginx).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
KEEP=0
[ "${1:-}" = "--keep" ] && KEEP=1

STEPS=11
STEP=0
START=$(date +%s%N)
FAILED=0
step() {
  local ms=$((($(date +%s%N) - START) / 1000000))
  STEP=$((STEP + 1))
  printf '\n[%2d/%d] %s  (%d.%d s)\n' "$STEP" "$STEPS" "$*" $((ms / 1000)) $((ms % 1000 / 100))
}
say() { printf '        %s\n' "$*"; }
ok() { printf '        ok: %s\n' "$*"; }
bad() { printf '        UNEXPECTED: %s\n' "$*"; FAILED=$((FAILED + 1)); }

# Waits up to $1 seconds for the command in the remaining arguments.
wait_for() {
  local seconds=$1; shift
  for _ in $(seq 1 $((seconds * 10))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  return 1
}
has_lines() { [ -f "$1" ] && [ "$(wc -l < "$1")" -ge "$2" ]; }
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

if [ "${DIPGATE_DEMO_PREBUILT:-0}" = 1 ]; then
  step "using prebuilt binaries"
else
  step "setting up the machine (deploy/setup.sh) and building dipgate"
  deploy/setup.sh
  say "building with Bazel (the first build takes 10-20 minutes on two cores; progress below)"
  bazel build -c opt --show_progress_rate_limit=10 --color=no --curses=no //cli:dipctl \
      //kafka_bridge:dipgate-bridge //nginx_module:ngx_http_dip_module.so //bench:produce 2>&1 |
    grep -vE "^(Loading|Analyzing|INFO: (Analyzed|Found|Elapsed|[0-9]+ process))" | uniq | sed 's/^/        /'
  BIN="$(bazel info -c opt bazel-bin 2>/dev/null)"
  DIPCTL=$BIN/cli/dipctl
  DIPGATE_BRIDGE=$BIN/kafka_bridge/dipgate-bridge
  DIPGATE_MODULE=$BIN/nginx_module/ngx_http_dip_module.so
  DIPGATE_PRODUCE=$BIN/bench/produce
  say "fetching the Kafka broker's jars from Maven Central (first run only)"
  tests/kafka/kafka.sh fetch
  ok "built dipctl, dipgate-bridge, the nginx module; Kafka jars ready"
fi
for b in "$DIPCTL" "$DIPGATE_BRIDGE" "$DIPGATE_MODULE" "$DIPGATE_PRODUCE"; do
  [ -e "$b" ] || { echo "demo: missing $b" >&2; exit 3; }
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/dipgate-demo.XXXXXX")"
chmod 755 "$WORK"
PIDS=()
cleanup() {
  local status=$?
  set +e            # stop everything, whatever fails on the way
  trap - EXIT INT TERM HUP
  trap '' PIPE      # output may be gone; writes fail, the cleanup goes on
  printf '\n[stop] stopping everything\n'
  if [ -f "$WORK/bridge.pid" ]; then
    kill -TERM "$(cat "$WORK/bridge.pid")" 2>/dev/null || true
    wait_for 20 bash -c "! kill -0 $(cat "$WORK/bridge.pid")" || true
    say "bridge stopped: $(grep -o '"event":"stopped"[^}]*' "$WORK/bridge.log" | head -1 || true)"
  fi
  if [ -f "$WORK/nginx/nginx.pid" ]; then
    kill -QUIT "$(cat "$WORK/nginx/nginx.pid")" 2>/dev/null || true
    wait_for 10 test ! -f "$WORK/nginx/nginx.pid" || true
    say "nginx stopped"
  fi
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -f "$WORK/kafka/kafka.pid" ]; then
    tests/kafka/kafka.sh stop "$WORK/kafka" >/dev/null 2>&1 || true
    say "Kafka stopped"
  fi
  if [ "$KEEP" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'echo; echo "interrupted"; exit 130' INT TERM HUP
trap 'exit 141' PIPE  # output closed (e.g. piped into head): still clean up

PKI=$WORK/pki
step "creating a test PKI like the DIP CA in $PKI"
"$DIPCTL" pki --out "$PKI" --domain example.co.uk >/dev/null 2>"$WORK/pki.log"
say "RSA-4096 root and issuing CA; RSA-2048 and P-256 signing certificates"
say "(energydip-nonprod.example.co.uk), TLS client and server, CRLs"
"$DIPCTL" inspect --cert "$PKI/signer-rsa.pem" | grep -E '^(subject|environment|valid until):' | sed 's/^/        /'
echo "demo-primary-api-key" > "$PKI/api-key"

KAFKA_PORT=$(free_port)
step "starting Kafka (KRaft, one node) on 127.0.0.1:$KAFKA_PORT"
tests/kafka/kafka.sh start "$WORK/kafka" "$KAFKA_PORT" "$(free_port)" >/dev/null
ok "broker up"

DIP_PORT=$(free_port)
step "starting the DIP stand-in on https://localhost:$DIP_PORT (mutual TLS)"
/usr/bin/python3 tools/dip_standin/dip_standin.py serve --port "$DIP_PORT" \
    --cert "$PKI/tls-server.pem" --key "$PKI/tls-server.key" --client-ca "$PKI/ca-bundle.pem" \
    --ca "$PKI/ca-bundle.pem" --crl "$PKI/crls.pem" --record "$WORK/dip-received.jsonl" \
    --ready-file "$WORK/dip.ready" --log > "$WORK/dip-standin.log" 2>&1 &
PIDS+=($!)
wait_for 20 test -f "$WORK/dip.ready" || {
  bad "DIP stand-in did not start"; tail -5 "$WORK/dip-standin.log" | sed 's/^/        /'; exit 1
}
ok "verifies content hash, signature, chain and CRLs of every request (Python cryptography + openssl)"

APP_PORT=$(free_port)
cat > "$WORK/app.py" <<'PY'
# The participant's application behind nginx: records what it is given.
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class App(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with open(sys.argv[2], "a") as f:
            f.write(json.dumps({"path": self.path, "bytes": len(body),
                                "verified": self.headers.get("X-DIP-Verified"),
                                "signer": self.headers.get("X-DIP-Signer")}) + "\n")
        self.send_response(202); self.send_header("Content-Length", "0"); self.end_headers()
HTTPServer(("127.0.0.1", int(sys.argv[1])), App).serve_forever()
PY
/usr/bin/python3 "$WORK/app.py" "$APP_PORT" "$WORK/app-received.jsonl" &
PIDS+=($!)

IN_PORT=$(free_port)
OUT_PORT=$(free_port)
step "starting nginx with the dipgate module: inbound :$IN_PORT (verify), outbound :$OUT_PORT (sign)"
mkdir -p "$WORK/nginx/logs"
USER_LINE=""
[ "$(id -u)" = 0 ] && USER_LINE="user root;"
cat > "$WORK/nginx/nginx.conf" <<CONF
load_module $DIPGATE_MODULE;
$USER_LINE
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log notice;
events {}
http {
    access_log off;
    client_body_temp_path $WORK/nginx/tmp;
    proxy_temp_path $WORK/nginx/tmp;
    dip_verify_replay_zone dipreplay:1m;
    log_format dip '"\$request" \$status dip=\$dip_verify_status header=\$dip_verify_header '
                   'signer="\$dip_signer_subject" days_to_expiry=\$dip_signer_days_to_expiry';
    # Inbound (deploy/nginx/dip-inbound.conf): webhooks from the DIP.
    server {
        listen 127.0.0.1:$IN_PORT ssl;
        ssl_certificate        $PKI/tls-server.pem;
        ssl_certificate_key    $PKI/tls-server.key;
        ssl_protocols          TLSv1.2 TLSv1.3;
        ssl_client_certificate $PKI/ca-bundle.pem;
        ssl_verify_client      on;
        ssl_verify_depth       2;
        ssl_crl                $PKI/crls.pem;
        access_log $WORK/nginx/inbound.log dip;
        location /dip/webhook/ {
            dip_verify                     on;
            dip_verify_trusted_certificate $PKI/ca-bundle.pem;
            dip_verify_crl                 $PKI/crls.pem;
            dip_verify_environment         nonprod;
            dip_verify_replay              dipreplay;
            proxy_set_header X-DIP-Verified \$dip_verify_status;
            proxy_set_header X-DIP-Signer   \$dip_signer_subject;
            proxy_pass http://127.0.0.1:$APP_PORT;
        }
    }
    # Outbound (deploy/nginx/dip-outbound.conf): internal systems -> DIP.
    dip_sign_identity mp-main certificate=$PKI/signer-ec.pem key=$PKI/signer-ec.encrypted.key
                              passphrase_file=$PKI/passphrase.txt;
    server {
        listen 127.0.0.1:$OUT_PORT;
        access_log $WORK/nginx/outbound.log;
        location / {
            dip_sign             mp-main;
            dip_sign_api_key     demo-primary-api-key;
            dip_sign_destination https://localhost:$DIP_PORT\$request_uri;
            proxy_pass https://127.0.0.1:$DIP_PORT;
            proxy_set_header Host localhost:$DIP_PORT;
            proxy_ssl_certificate         $PKI/tls-client.pem;
            proxy_ssl_certificate_key     $PKI/tls-client.key;
            proxy_ssl_trusted_certificate $PKI/ca-bundle.pem;
            proxy_ssl_verify              on;
            proxy_ssl_name                localhost;
        }
    }
}
CONF
mkdir -p "$WORK/nginx/tmp"
nginx_run() { sh -c "${DIPGATE_NGINX:-/usr/sbin/nginx} -p '$WORK/nginx' -c '$WORK/nginx/nginx.conf' $*"; }
nginx_run -t 2>&1 | sed 's/^/        /' | tail -1
nginx_run
wait_for 10 test -s "$WORK/nginx/nginx.pid" || { bad "nginx did not start"; exit 1; }
ok "nginx $(/usr/sbin/nginx -v 2>&1 | sed 's/.*nginx\///') (Debian's stock binary) loaded the module"

METRICS_PORT=$(free_port)
step "starting the Kafka bridge (topic dip.outbound -> https://localhost:$DIP_PORT)"
cat > "$WORK/bridge.json" <<JSON
{
  "kafka": { "bootstrap.servers": "127.0.0.1:$KAFKA_PORT", "group.id": "dipgate-demo",
             "auto.offset.reset": "earliest" },
  "identities": [ { "name": "mp-main", "certificate": "$PKI/signer-rsa.pem",
                    "key": "$PKI/signer-rsa.key" } ],
  "routes": [ { "topic": "dip.outbound", "identity": "mp-main",
                "url": "https://localhost:$DIP_PORT/api/v1/messages/{interfaceID}" } ],
  "tls": { "client_certificate": "$PKI/tls-client.pem", "client_key": "$PKI/tls-client.key",
           "ca": "$PKI/ca-bundle.pem" },
  "api_key": { "primary_file": "$PKI/api-key" },
  "retry": { "initial_backoff_ms": 200, "max_backoff_ms": 2000 },
  "dead_letter_topic": "dip.outbound.dlq",
  "metrics_listen": "127.0.0.1:$METRICS_PORT"
}
JSON
"$DIPGATE_BRIDGE" --config "$WORK/bridge.json" --check | sed 's/^/        /'
"$DIPGATE_BRIDGE" --config "$WORK/bridge.json" > "$WORK/bridge.log" 2>&1 &
echo $! > "$WORK/bridge.pid"
wait_for 30 curl -sf "http://127.0.0.1:$METRICS_PORT/healthz" || { bad "bridge not healthy"; cat "$WORK/bridge.log"; exit 1; }
ok "bridge healthy; metrics on http://127.0.0.1:$METRICS_PORT/metrics"

MESSAGES=(tests/data/*.json)   # the public sample DIP messages (../shared/interop/messages)
step "hop 1: ${#MESSAGES[@]} sample messages: Kafka -> bridge (sign, mTLS) -> DIP"
for m in "${MESSAGES[@]}"; do
  "$DIPGATE_PRODUCE" "127.0.0.1:$KAFKA_PORT" dip.outbound 1 "$m" >/dev/null 2>&1
  say "produced $(basename "$m") ($(wc -c < "$m") bytes) to dip.outbound"
done
if wait_for 60 has_lines "$WORK/dip-received.jsonl" "${#MESSAGES[@]}"; then
  while read -r line; do
    echo "$line" | /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin)
print("        DIP received %s: %s, signer %s, API key %s" % (r["path"],
      "signature verified" if r["verified"] else "NOT VERIFIED: " + r["why"], r["signer"], r["api_key"]))'
  done < "$WORK/dip-received.jsonl"
  verified=$(grep -c '"verified": true' "$WORK/dip-received.jsonl" || true)
  [ "$verified" -eq "${#MESSAGES[@]}" ] && ok "all ${#MESSAGES[@]} verified by the DIP stand-in" ||
    bad "only $verified of ${#MESSAGES[@]} verified"
else
  bad "the DIP stand-in did not receive every message"; tail -5 "$WORK/bridge.log"
fi
metric() { curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
committed() { [ "$(metric dipgate_bridge_committed_total)" -ge 1 ]; }
wait_for 20 committed || bad "offsets not committed"
say "bridge metrics: delivered $(metric dipgate_bridge_delivered_total), offset commits $(metric dipgate_bridge_committed_total), dead-lettered $(metric dipgate_bridge_dead_lettered_total), signing certificate expires in $(metric dipgate_bridge_certificate_days_to_expiry) days"

step "hop 2: an internal system -> nginx outbound (sign, mTLS, API key) -> DIP"
answer=$(curl -s -w '\n%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "@${MESSAGES[1]:-${MESSAGES[0]}}" "http://127.0.0.1:$OUT_PORT/api/v1/messages/IF-041")
code=$(echo "$answer" | tail -1)
echo "$answer" | head -1 | /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin)
print("        DIP answered: verified=%s signer=%s api_key=%s" % (r["verified"], r["signer"], r["api_key"]))' || true
[ "$code" = 200 ] && ok "signed by nginx (P-256 identity mp-main) and verified by the DIP" ||
  bad "nginx outbound answered $code"

WEBHOOK=(/usr/bin/python3 tools/dip_standin/dip_standin.py send
         --client-cert "$PKI/tls-client.pem" --client-key "$PKI/tls-client.key"
         --server-ca "$PKI/ca-bundle.pem" --body "${MESSAGES[0]}")
HOOK_URL="https://localhost:$IN_PORT/dip/webhook/IF-033"
step "hop 3: DIP webhook -> nginx inbound (mTLS, verify) -> local application"
out=$("${WEBHOOK[@]}" --url "$HOOK_URL" --cert "$PKI/signer-prod.pem" --key "$PKI/signer-prod.key" 2>&1 || true)
say "a webhook signed for the production environment: nginx answered $(echo "$out" | head -1) $(echo "$out" | sed -n 2p)"
[ "$(echo "$out" | head -1)" = 401 ] && ok "refused: this receiver accepts energydip-nonprod signers only" ||
  bad "a production-signed webhook was not refused"
out=$("${WEBHOOK[@]}" --url "$HOOK_URL" --cert "$PKI/signer-ec.pem" --key "$PKI/signer-ec.key" 2>&1 || true)
say "nginx answered $(echo "$out" | head -1)"
if wait_for 10 has_lines "$WORK/app-received.jsonl" 1; then
  say "application received: $(tail -1 "$WORK/app-received.jsonl")"
  grep -q '"verified": "ok"' "$WORK/app-received.jsonl" && ok "verified by nginx and delivered" ||
    bad "application did not see a verified message"
else
  bad "the application received nothing: $out"
fi

step "hop 4: refused webhooks (nginx answers 401 with the reason; the application sees nothing)"
before=$(wc -l < "$WORK/app-received.jsonl")
for case in "tampered:--tamper --cert $PKI/signer-ec.pem --key $PKI/signer-ec.key:content_hash_mismatch" \
            "revoked signer:--cert $PKI/signer-revoked.pem --key $PKI/signer-revoked.key:certificate_revoked" \
            "untrusted CA:--cert $PKI/signer-untrusted.pem --key $PKI/signer-untrusted.key:certificate_untrusted"; do
  IFS=: read -r name args reason <<<"$case"
  # shellcheck disable=SC2086
  out=$("${WEBHOOK[@]}" --url "$HOOK_URL" $args 2>&1 || true)
  say "$name: $(echo "$out" | head -1) $(echo "$out" | sed -n 2p)"
  [ "$(echo "$out" | head -1)" = 401 ] && echo "$out" | grep -q "\"$reason" &&
    ok "$name refused ($reason)" || bad "$name not refused with $reason"
done
after=$(wc -l < "$WORK/app-received.jsonl")
[ "$after" = "$before" ] && ok "the application received none of them" || bad "a refused webhook reached the application"
say "nginx audit log:"
sed 's/^/          /' "$WORK/nginx/inbound.log"

step "summary"
if [ "$FAILED" = 0 ]; then
  say "every hop behaved as expected"
else
  say "$FAILED unexpected results; logs in $WORK (run with --keep to inspect)"
fi
[ "$FAILED" = 0 ]
