#!/usr/bin/env bash
# The whole system, end to end, on local defaults and with no outside service:
#
#   1. sets up the machine (deploy/setup.sh) and builds dipgate
#   2. creates a test PKI shaped like the DIP CA (root, issuing CA, signing
#      and TLS certificates, CRLs)
#   3. starts a real Kafka broker, the DIP sandbox (tools/dip_standin: the
#      DIP's API as its spec describes it, docs/dip-standin.md: mutual TLS,
#      API keys, signatures, schemas, StandardResponse answers, signed
#      webhooks with retries), nginx with the dipgate module (inbound:
#      verify; outbound: sign) and the Kafka bridge
#   4. hop 1: Kafka -> bridge -> the DIP's /dip-channel/{interfaceID}, each
#      message's MSG code and transactionID and its receipt back in Kafka; a
#      batch holding a schema-invalid message and one the DIP refuses: the
#      bridge's schema check, the split and the dead letters
#      hop 2: an internal system -> nginx's signing gateway -> the DIP
#      hop 3: a webhook registered with dipctl pubconfig: the DIP's signed
#      callback -> nginx (verify) -> the bridge's inbound listener -> Kafka,
#      answered 503 while the listener is not up, landing on the DIP's retry
#      hop 4: webhooks that must be refused (tampered, revoked, untrusted CA,
#      wrong environment), each with its reason
#   5. stops everything (also on Ctrl-C) and says what happened at each hop.
#
#   deploy/demo.sh [--keep]      --keep leaves the working directory (logs,
#                                PKI, configs) for inspection
#
# Exit status 0 when every hop behaved as expected. The tests run it with
# DIPGATE_DEMO_PREBUILT=1 and DIPCTL, DIPGATE_BRIDGE and DIPGATE_MODULE naming
# binaries they built, DIPGATE_SCHEMAS the DIP's schemas directory they built
# (//third_party/dip_api:schemas), no setup and no build; DIPGATE_NGINX is the
# nginx command (default /usr/sbin/nginx).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
KEEP=0
[ "${1:-}" = "--keep" ] && KEEP=1

STEPS=12
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
      //kafka_bridge:dipgate-bridge //nginx_module:ngx_http_dip_module.so \
      //third_party/dip_api:schemas 2>&1 |
    grep -vE "^(Loading|Analyzing|INFO: (Analyzed|Found|Elapsed|[0-9]+ process))" | uniq | sed 's/^/        /'
  BIN="$(bazel info -c opt bazel-bin 2>/dev/null)"
  DIPCTL=$BIN/cli/dipctl
  DIPGATE_BRIDGE=$BIN/kafka_bridge/dipgate-bridge
  DIPGATE_MODULE=$BIN/nginx_module/ngx_http_dip_module.so
  DIPGATE_SCHEMAS=$BIN/third_party/dip_api/schemas
  say "fetching the Kafka broker's jars from Maven Central (first run only)"
  tests/kafka/kafka.sh fetch
  ok "built dipctl, dipgate-bridge, the nginx module and the DIP's schemas; Kafka jars ready"
fi
for b in "$DIPCTL" "$DIPGATE_BRIDGE" "$DIPGATE_MODULE" "$DIPGATE_SCHEMAS/index.json"; do
  [ -e "$b" ] || { echo "demo: missing $b" >&2; exit 3; }
done
command -v kcat >/dev/null || { echo "demo: missing kcat (deploy/setup.sh installs it)" >&2; exit 3; }
export DIPGATE_SCHEMAS  # dipctl validates against them before it sends

WORK="$(mktemp -d "${TMPDIR:-/tmp}/dipgate-demo.XXXXXX")"
chmod 755 "$WORK"
PIDS=()
stop_bridge() {  # $1: pid file, $2: log, $3: what to call it, $4: its last event
  [ -f "$1" ] || return 0
  kill -TERM "$(cat "$1")" 2>/dev/null || true
  wait_for 20 bash -c "! kill -0 $(cat "$1")" || true
  say "$3 stopped: $(grep -o "\"event\":\"$4\"[^}]*" "$2" | sed -n 1p || true)"
}
exec 3>&1 4>&2       # the demo's output, for the cleanup whatever is redirected when it runs
cleanup() {
  local status=$?
  exec 1>&3 2>&4
  set +e            # stop everything, whatever fails on the way
  trap - EXIT INT TERM HUP
  trap '' PIPE      # output may be gone; writes fail, the cleanup goes on
  printf '\n[stop] stopping everything\n'
  stop_bridge "$WORK/bridge.pid" "$WORK/bridge.log" "bridge" stopped
  stop_bridge "$WORK/bridge-in.pid" "$WORK/bridge-in.log" "inbound bridge" inbound_stopped
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
trap 'exec 1>&3 2>&4; echo; echo "interrupted"; exit 130' INT TERM HUP
trap 'exit 141' PIPE  # output closed (e.g. piped into head): still clean up
# Inside, first lines are taken with `sed -n 1p`, never `head -1`: head
# closing its pipe early fails the writer with SIGPIPE, which pipefail and
# set -e turn into the script's exit (141) when the output is large.

# The demo's own helper: DIP messages from the public sample, the DIP
# sandbox's outcomes file (docs/dip-standin.md) and Kafka records (kcat's JSON
# envelopes, see kafka_read below) put into words.
TOOL=$WORK/tool.py
cat > "$TOOL" <<'PY'
import json, sys

# -- DIP messages ------------------------------------------------------------

def message(sample, out, reference, mpan, *changes):
    """The sample DIPMessageArray with its own senderUniqueReference and
    MPANCore; `changes`: POINTER=JSON (e.g. /CommonBlock/S1/environmentTag="PRD")
    under the payload."""
    array = json.load(open(sample))
    payload = array[0]["payload"]
    payload["CommonBlock"]["S1"]["senderUniqueReference"] = reference
    payload["CommonBlock"]["M0"]["MPANCore"] = mpan
    for change in changes:
        pointer, value = change.split("=", 1)
        *path, last = pointer.strip("/").split("/")
        node = payload
        for p in path:
            node = node[p]
        node[last] = json.loads(value)
    with open(out, "w") as f:
        json.dump(array, f, separators=(",", ":"))

# -- the DIP sandbox's outcomes ----------------------------------------------

def outcomes(path, event, skip=0):
    lines = open(path).read().splitlines()[int(skip):]
    return [o for o in map(json.loads, lines) if o["event"] == event]

def posts(path, skip):
    """The DIP's answer to each message array POSTed to it since line `skip`."""
    for o in outcomes(path, "ingress", skip):
        codes, ids = o.get("codes") or [], o.get("transactionIDs") or []
        refs = o.get("senderUniqueReferences") or []
        print(f"DIP: {o['method']} {o['path']}: {len(refs)} message{'s'[:len(refs) != 1]} "
              f"-> {o['status']}" + (f" ({o['why']})" if o["status"] >= 300 and o["why"] else ""))
        for ref, code, tid in zip(refs, codes + [""] * len(refs), ids + [None] * len(refs)):
            print(f"  {ref}: {code}" + (f", transactionID {tid}" if tid else ""))

def attempts(path):
    for o in outcomes(path, "callback_attempt"):
        print(f"DIP callback {o['url']} attempt {o['attempt']}: "
              + (f"HTTP {o['status']}" if o["status"] else o["error"]))

def count(path, event):
    print(len(outcomes(path, event)))

# -- Kafka records, for people -----------------------------------------------

def show(prefix="dip."):
    """Records (kcat -J envelopes, one a line, on stdin): key, payload, and
    the headers starting with `prefix`."""
    for line in sys.stdin:
        if not line.strip():
            continue
        r = json.loads(line)
        payload = r["payload"] or ""
        value = payload if len(payload) <= 240 else payload[:240] + f"... ({len(payload)} bytes)"
        print(f"{r['topic']} partition {r['partition']} offset {r['offset']}, key {r['key']}:")
        print(f"  value {value}")
        headers = r.get("headers") or []  # [name, value, name, value, ...]
        for k, v in zip(headers[::2], headers[1::2]):
            v = v or ""
            if k.startswith(prefix):
                print(f"  {k}: {v if len(v) <= 200 else v[:200] + '...'}")

if __name__ == "__main__":
    globals()[sys.argv[1]](*sys.argv[2:])
PY
tool() { /usr/bin/python3 "$TOOL" "$@"; }

# Kafka from the demo's side: kcat (Debian's kcat, on librdkafka like the
# bridge). kafka_produce BOOTSTRAP TOPIC KEY FILE [KEY FILE...] writes one
# record per pair, in order, with one producer, so that they reach the bridge
# together as one application's burst would (one kcat each would spread them
# over the bridge's 300 ms linger): kcat reads KEY<tab>VALUE lines, and each
# message file is compact JSON on one line.
kafka_produce() {
  local bootstrap=$1 topic=$2; shift 2
  local i
  for ((i = 2; i <= $#; i += 2)); do
    if [ "$(wc -l < "${!i}")" != 0 ]; then echo "kafka_produce: ${!i} is not one line" >&2; return 1; fi
  done
  while [ $# -ge 2 ]; do printf '%s\t' "$1"; cat "$2"; printf '\n'; shift 2; done |
    kcat -P -q -b "$bootstrap" -t "$topic" -K '\t' -X linger.ms=5 -X message.timeout.ms=30000
}
# kafka_create BOOTSTRAP TOPIC...: creates the topics (the broker's defaults:
# 3 partitions), as an operator would before starting the bridge: a metadata
# request for a missing topic creates it; asked again until it has partitions.
kafka_create() {
  local bootstrap=$1 topic deadline=$(($(date +%s) + 30)); shift
  for topic in "$@"; do
    until [[ "$(kcat -L -b "$bootstrap" -t "$topic" -J -m 2)" == *'"partitions":[{'* ]]; do
      [ "$(date +%s)" -lt "$deadline" ] || { echo "kafka_create: cannot create $topic" >&2; return 1; }
      sleep 0.1
    done
  done
}
# kafka_read BOOTSTRAP TOPIC LEAST TIMEOUT: every record of the topic, from
# the beginning to the end of every partition, as kcat's JSON envelopes, one
# a line ({topic, partition, offset, key, payload, headers: [name, value,
# ...]}): at least LEAST of them, read again until they are there; status 1
# (with what there is) when fewer than LEAST came within TIMEOUT seconds.
kafka_read() {
  local bootstrap=$1 topic=$2 least=$3 deadline=$(($(date +%s%N) + $4 * 1000000000)) out
  while :; do
    out=$(timeout 10 kcat -C -q -b "$bootstrap" -t "$topic" -o beginning -e -J -m 5 \
            -X fetch.wait.max.ms=50) || out=""
    if [ "$(printf '%s' "$out" | grep -c .)" -ge "$least" ]; then
      printf '%s\n' "$out"; return 0
    fi
    if [ "$(date +%s%N)" -ge "$deadline" ]; then
      [ -z "$out" ] || printf '%s\n' "$out"
      return 1
    fi
    sleep 0.2
  done
}

# Kafka's JVM takes a few seconds to start: it starts now, while the PKI is made.
KAFKA_PORT=$(free_port)
KAFKA=127.0.0.1:$KAFKA_PORT
tests/kafka/kafka.sh start "$WORK/kafka" "$KAFKA_PORT" "$(free_port)" > "$WORK/kafka-start.log" 2>&1 &
KAFKA_STARTING=$!
PIDS+=("$KAFKA_STARTING")

PKI=$WORK/pki
step "creating a test PKI like the DIP CA in $PKI"
"$DIPCTL" pki --out "$PKI" --domain example.co.uk >/dev/null 2>"$WORK/pki.log"
say "RSA-4096 root and issuing CA; RSA-2048 and P-256 signing certificates"
say "(energydip-nonprod.example.co.uk), TLS client and server, CRLs"
"$DIPCTL" inspect --cert "$PKI/signer-rsa.pem" | grep -E '^(subject|environment|valid until):' | sed 's/^/        /'
echo "demo-primary-api-key" > "$PKI/api-key"

step "starting Kafka (KRaft, one node) on $KAFKA"
wait "$KAFKA_STARTING" || { bad "Kafka did not start"; sed 's/^/        /' "$WORK/kafka-start.log"; exit 1; }
TOPICS=(dip.outbound dip.outbound.receipts dip.outbound.dlq dip.in.IF-033)
kafka_create "$KAFKA" "${TOPICS[@]}" 2>>"$WORK/tool.log"
ok "broker up (started while the PKI was made); topics ${TOPICS[*]}"

DIP_PORT=$(free_port)
DIP=https://localhost:$DIP_PORT
OUTCOMES=$WORK/dip-outcomes.jsonl
SPEC=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["spec"]["version"])' \
       "$DIPGATE_SCHEMAS/index.json")
step "starting the DIP sandbox on $DIP (the DIP's API, spec $SPEC)"
/usr/bin/python3 tools/dip_standin/dip_standin.py serve --port "$DIP_PORT" \
    --cert "$PKI/tls-server.pem" --key "$PKI/tls-server.key" --client-ca "$PKI/ca-bundle.pem" \
    --ca "$PKI/ca-bundle.pem" --crl "$PKI/crls.pem" --api-key "$(cat "$PKI/api-key")" \
    --environment DEV --outcomes "$OUTCOMES" \
    --dip-cert "$PKI/signer-ec.pem" --dip-key "$PKI/signer-ec.key" \
    --callback-ca "$PKI/ca-bundle.pem" \
    --callback-client-cert "$PKI/tls-client.pem" --callback-client-key "$PKI/tls-client.key" \
    --retry-schedule 1,1,2,3,5 --batch-linger 100 \
    --ready-file "$WORK/dip.ready" > "$WORK/dip-sandbox.log" 2>&1 &
PIDS+=($!)
wait_for 30 test -f "$WORK/dip.ready" || {
  bad "the DIP sandbox did not start"; tail -5 "$WORK/dip-sandbox.log" | sed 's/^/        /'; exit 1
}
ok "mutual TLS, API key, signature (Python cryptography + openssl), schema of every message"
say "environment DEV; its webhooks signed as the DIP, retried 1, 1, 2, 3, 5 s apart"

IN_PORT=$(free_port)
OUT_PORT=$(free_port)
LISTENER_PORT=$(free_port)
step "starting nginx with the dipgate module: inbound :$IN_PORT (verify), outbound :$OUT_PORT (sign)"
mkdir -p "$WORK/nginx/logs" "$WORK/nginx/tmp"
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
                   'signer="\$dip_signer_subject" days_to_expiry=\$dip_signer_days_to_expiry '
                   'upstream=\$upstream_status';
    # Inbound (deploy/nginx/dip-inbound.conf): the DIP's webhooks, verified,
    # into the Kafka bridge's inbound listener.
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
            dip_verify_schemas             $DIPGATE_SCHEMAS;
            dip_verify_participant_id      0140321855;
            proxy_set_header X-DIP-Verified \$dip_verify_status;
            proxy_set_header X-DIP-Signer   \$dip_signer_subject;
            proxy_pass http://127.0.0.1:$LISTENER_PORT;
            # The bridge not answering (restarting, say): 503 with
            # Retry-After, which the DIP retries, rather than nginx's 502.
            error_page 502 504 = @bridge_unavailable;
        }
        location @bridge_unavailable {
            add_header Retry-After 1 always;
            default_type application/json;
            return 503 '{"statusCode":503,"message":"the Kafka bridge is not answering: retry"}';
        }
    }
    # Outbound (deploy/nginx/dip-outbound.conf): internal systems -> DIP.
    dip_sign_identity mp-main certificate=$PKI/signer-ec.pem key=$PKI/signer-ec.encrypted.key
                              passphrase_file=$PKI/passphrase.txt;
    server {
        listen 127.0.0.1:$OUT_PORT;
        access_log $WORK/nginx/outbound.log;
        location /dip-channel/ {
            dip_sign             mp-main;
            dip_sign_api_key     $(cat "$PKI/api-key");
            dip_sign_destination $DIP\$request_uri;
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
nginx_run() { sh -c "${DIPGATE_NGINX:-/usr/sbin/nginx} -p '$WORK/nginx' -c '$WORK/nginx/nginx.conf' $*"; }
nginx_run -t 2>&1 | sed 's/^/        /' | tail -1
nginx_run
wait_for 10 test -s "$WORK/nginx/nginx.pid" || { bad "nginx did not start"; exit 1; }
ok "nginx $(/usr/sbin/nginx -v 2>&1 | sed 's/.*nginx\///') (Debian's stock binary) loaded the module"

METRICS_PORT=$(free_port)
step "starting the Kafka bridge: topic dip.outbound -> $DIP/dip-channel/{interfaceID}"
cat > "$WORK/bridge.json" <<JSON
{
  "kafka": { "bootstrap.servers": "$KAFKA", "group.id": "dipgate-demo" },
  "identities": [ { "name": "mp-main", "certificate": "$PKI/signer-rsa.pem",
                    "key": "$PKI/signer-rsa.key", "dip_ids": ["8795183096"] } ],
  "dip_base_url": "$DIP",
  "routes": [ { "topic": "dip.outbound" } ],
  "tls": { "client_certificate": "$PKI/tls-client.pem", "client_key": "$PKI/tls-client.key",
           "ca": "$PKI/ca-bundle.pem" },
  "api_key": { "primary_file": "$PKI/api-key" },
  "schemas": "$DIPGATE_SCHEMAS",
  "batch": { "max_messages": 10, "linger_ms": 300 },
  "retry": { "initial_backoff_ms": 200, "max_backoff_ms": 2000 },
  "receipts_topic": "dip.outbound.receipts",
  "dead_letter_topic": "dip.outbound.dlq",
  "metrics_listen": "127.0.0.1:$METRICS_PORT"
}
JSON
"$DIPGATE_BRIDGE" --config "$WORK/bridge.json" --check | sed 's/^/        /'
"$DIPGATE_BRIDGE" --config "$WORK/bridge.json" > "$WORK/bridge.log" 2>&1 &
echo $! > "$WORK/bridge.pid"
wait_for 30 curl -sf "http://127.0.0.1:$METRICS_PORT/healthz" || { bad "bridge not healthy"; cat "$WORK/bridge.log"; exit 1; }
ok "bridge healthy; metrics on http://127.0.0.1:$METRICS_PORT/metrics"
say "signs as mp-main for senderDIPID 8795183096, checks every message against the DIP's"
say "schemas first, batches up to 10 records per POST (300 ms linger)"
metric() {  # $1: metric name (with labels), $2: port (default: the bridge's)
  curl -s "http://127.0.0.1:${2:-$METRICS_PORT}/metrics" | awk -v m="$1" '$1 == m {print $2}'
}
metric_at_least() { [ "$(metric "$1" "${3:-}")" -ge "$2" ] 2>/dev/null; }

SAMPLE=tests/data/if-033-appointment-request.json  # the public IF-033 sample
TODAY=$(date -u +%Y%m%d)
ref() { echo "S-IF-033-8795183096-REGS-$TODAY-demo$1"; }
mpan() { printf '12345678%05d' "$1"; }
# Makes message $1 (a DIPMessageArray of one IF-033 appointment request),
# with more changes in $2...; prints its key (the MPAN) and file.
make_message() {
  local n=$1; shift
  tool message "$SAMPLE" "$WORK/msg-$n.json" "$(ref "$n")" "$(mpan "$n")" "$@"
  echo "$(mpan "$n") $WORK/msg-$n.json"
}

step "hop 1: 3 IF-033 messages: Kafka -> bridge (schema, sign, mTLS, API key) -> DIP"
# shellcheck disable=SC2046
kafka_produce "$KAFKA" dip.outbound $(make_message 1) $(make_message 2) $(make_message 3) 2>>"$WORK/tool.log"
say "produced $(ref 1), $(ref 2) and $(ref 3)"
say "to dip.outbound, keyed by MPAN ($(mpan 1) .. $(mpan 3))"
wait_for 30 metric_at_least dipgate_bridge_receipts_total 3 ||
  { bad "not delivered: $(tail -3 "$WORK/bridge.log")"; }
tool posts "$OUTCOMES" 0 | sed 's/^/        /'
say "receipts read back from dip.outbound.receipts:"
receipts=$(kafka_read "$KAFKA" dip.outbound.receipts 3 20 2>>"$WORK/tool.log" || true)
echo "$receipts" | /usr/bin/python3 -c 'import json, sys
for line in sys.stdin:
    if line.strip(): r = json.loads(line); print("          key %s: %s" % (r["key"], r["payload"]))'
accepted=$(echo "$receipts" | grep -c '\\"code\\":\\"MSG0000\\"' || true)
[ "$accepted" = 3 ] && ok "3 accepted by the DIP (MSG0000, a transactionID each), 3 receipts in Kafka" ||
  bad "$accepted of 3 receipts say MSG0000"
POSTS_BEFORE=$(wc -l < "$OUTCOMES")

step "hop 1: a batch of 6 with 2 bad messages: the bridge's schema check and the split"
# shellcheck disable=SC2046
kafka_produce "$KAFKA" dip.outbound $(make_message 4) $(make_message 5) \
    $(make_message 6 '/CommonBlock/M0/MPANCore="12"') \
    $(make_message 7 '/CommonBlock/S1/environmentTag="PRD"') \
    $(make_message 8) $(make_message 9) 2>>"$WORK/tool.log"
say "produced 6 records: 4 valid; $(ref 6) with MPANCore \"12\" (DT-002 wants 13 digits);"
say "$(ref 7) for environment PRD (valid by the schema, but this DIP is DEV)"
wait_for 30 metric_at_least dipgate_bridge_dead_lettered_total 2 ||
  bad "not dead-lettered: $(tail -3 "$WORK/bridge.log")"
wait_for 10 metric_at_least dipgate_bridge_receipts_total 7 || bad "the 4 valid ones were not all delivered"
tool posts "$OUTCOMES" "$POSTS_BEFORE" | sed 's/^/        /'
say "bridge: $(metric dipgate_bridge_batch_splits_total) batch splits, dead letters by reason:" \
    "schema_invalid $(metric 'dipgate_bridge_dead_letters_total{reason="schema_invalid"}')," \
    "rejected_by_dip $(metric 'dipgate_bridge_dead_letters_total{reason="rejected_by_dip"}')"
say "dead letters read back from dip.outbound.dlq (the record as produced, and why):"
dead=$(kafka_read "$KAFKA" dip.outbound.dlq 2 20 2>>"$WORK/tool.log" || true)
echo "$dead" | tool show dip.errors. | sed 's/^/          /'
if grep -q "$(ref 6)" "$OUTCOMES"; then
  bad "the schema-invalid message reached the DIP"
elif echo "$dead" | grep -q '"dip.errors.reason","schema_invalid"' &&
     echo "$dead" | grep -q '"dip.errors.json.pointer","/0/payload/CommonBlock/M0/MPANCore"'; then
  ok "$(ref 6): schema_invalid at /0/payload/CommonBlock/M0/MPANCore, never sent to the DIP"
else
  bad "no schema_invalid dead letter with its JSON pointer"
fi
echo "$dead" | grep -q '"dip.errors.reason","rejected_by_dip"' &&
  echo "$dead" | grep -q '"dip.errors.dip.code","MSG1001"' &&
  [ "$(metric dipgate_bridge_batch_splits_total)" -ge 1 ] &&
  ok "$(ref 7): the DIP refused its array (400, MSG1001); split until alone, then dead-lettered" ||
  bad "the DIP's refusal was not split down to one dead letter"
[ "$(metric dipgate_bridge_delivered_total)" = 7 ] &&
  ok "the 4 valid messages of the batch delivered, with receipts (7 in all)" ||
  bad "delivered $(metric dipgate_bridge_delivered_total), expected 7"

step "hop 2: an internal system -> nginx outbound (sign, mTLS, API key) -> DIP"
make_message 10 >/dev/null
answer=$(curl -s -w '\n%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "@$WORK/msg-10.json" "http://127.0.0.1:$OUT_PORT/dip-channel/IF-033")
code=$(echo "$answer" | tail -1)
echo "$answer" | sed -n 1p | /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin)
for m in r["messageArray"]: print("        DIP answered %s: %s, transactionID %s" % (sys.argv[1], m["message"], m["transactionID"]))' "$code" || true
[ "$code" = 201 ] && ok "signed by nginx (P-256 identity mp-main) and accepted by the DIP" ||
  bad "nginx outbound answered $code: $(echo "$answer" | sed -n 1p)"

IN_METRICS_PORT=$(free_port)
HOOK_URL="https://localhost:$IN_PORT/dip/webhook/if-033"
step "hop 3: the DIP's webhook -> nginx inbound (mTLS, verify, schemas) -> bridge -> Kafka"
CALL=(--url "$DIP" --cert "$PKI/signer-rsa.pem" --key "$PKI/signer-rsa.key"
      --api-key-file "$PKI/api-key" --server-ca "$PKI/ca-bundle.pem"
      --client-cert "$PKI/tls-client.pem" --client-key "$PKI/tls-client.key")
out=$("$DIPCTL" pubconfig --channel IF-033 --recipient 0140321855 --callback-url "$HOOK_URL" \
      --max-message-count 5 "${CALL[@]}" 2>&1) || bad "dipctl pubconfig failed: $out"
say "dipctl pubconfig: IF-033 messages for 0140321855 go to $HOOK_URL"
echo "$out" | sed 's/^/          /'
say "the bridge's inbound listener (127.0.0.1:$LISTENER_PORT) is not started yet"
make_message 11 >/dev/null
out=$("$DIPCTL" send --body "$WORK/msg-11.json" "${CALL[@]}" 2>&1) || bad "dipctl send failed: $out"
say "dipctl send $(ref 11) (to 0140321855):"
echo "$out" | sed 's/^/          /'
SENT_TX=$(echo "$out" | grep -o 'T-IF-033-[A-Za-z0-9-]*' | sed -n 1p)
wait_for 15 grep -q '"event": "callback_attempt"' "$OUTCOMES" || bad "the DIP made no callback"
shown=$(tool attempts "$OUTCOMES")
echo "$shown" | sed 's/^/        /'
refused=$(grep -o 'connect() failed ([^)]*) while connecting to upstream' "$WORK/nginx/error.log" | sed -n 1p)
say "(nginx verified it, then: \"$refused\"; its error_page answers 503 with Retry-After: 1)"
cat > "$WORK/bridge-in.json" <<JSON
{
  "kafka": { "bootstrap.servers": "$KAFKA" },
  "inbound": { "listen": "127.0.0.1:$LISTENER_PORT", "topic": "dip.in.{interfaceID}",
               "key": "MPANCore", "participant_id": "0140321855",
               "schemas": "$DIPGATE_SCHEMAS", "produce_timeout_ms": 5000, "retry_after_s": 1 },
  "metrics_listen": "127.0.0.1:$IN_METRICS_PORT"
}
JSON
say "starting the bridge's inbound listener (a second dipgate-bridge; one process can do both)"
"$DIPGATE_BRIDGE" --config "$WORK/bridge-in.json" > "$WORK/bridge-in.log" 2>&1 &
echo $! > "$WORK/bridge-in.pid"
wait_for 15 grep -q inbound_listening "$WORK/bridge-in.log" || bad "inbound listener not up: $(tail -2 "$WORK/bridge-in.log")"
wait_for 20 grep -q '"event": "delivered"' "$OUTCOMES" || bad "the DIP's retry did not land"
tool attempts "$OUTCOMES" | tail -n +$(($(echo "$shown" | wc -l) + 1)) | sed 's/^/        /'
records=$(kafka_read "$KAFKA" dip.in.IF-033 1 20 2>>"$WORK/tool.log" || true)
say "read back from dip.in.IF-033 (one record per message, the DIP's D0 block included):"
echo "$records" | tool show dip. | sed 's/^/          /'
n=$(echo "$records" | grep -c . || true)
if [ "$n" = 1 ] && echo "$records" | grep -q "\"dip.transactionID\",\"$SENT_TX\""; then
  ok "the webhook landed in Kafka once, after a 503 and the DIP's retry ($SENT_TX)"
else
  bad "$n records on dip.in.IF-033 (expected 1 with transactionID $SENT_TX)"
fi
grep -q '"status": 503' "$OUTCOMES" && ok "the DIP's first attempt was answered 503 (Retry-After), and retried" ||
  bad "no 503 seen by the DIP"

WEBHOOK=(/usr/bin/python3 tools/dip_standin/dip_standin.py send
         --client-cert "$PKI/tls-client.pem" --client-key "$PKI/tls-client.key"
         --server-ca "$PKI/ca-bundle.pem" --body "$WORK/msg-11.json" --url "$HOOK_URL")
step "hop 4: refused webhooks (nginx answers 401 with the reason; the bridge sees nothing)"
before=$(metric dipgate_bridge_webhooks_received_total "$IN_METRICS_PORT")
for case in "tampered:--tamper --cert $PKI/signer-ec.pem --key $PKI/signer-ec.key:content_hash_mismatch" \
            "revoked signer:--cert $PKI/signer-revoked.pem --key $PKI/signer-revoked.key:certificate_revoked" \
            "untrusted CA:--cert $PKI/signer-untrusted.pem --key $PKI/signer-untrusted.key:certificate_untrusted" \
            "production signer:--cert $PKI/signer-prod.pem --key $PKI/signer-prod.key:wrong_environment"; do
  IFS=: read -r name args reason <<<"$case"
  # shellcheck disable=SC2086
  out=$("${WEBHOOK[@]}" $args 2>&1 || true)
  status=$(echo "$out" | sed -n 1p)
  say "$name: $status $(echo "$out" | sed -n 2p | /usr/bin/python3 -c 'import json,sys
try:
    r = json.load(sys.stdin); print(r["messageArray"][0]["message"] + ", reason " + r["reason"])
except Exception as e: print("(unreadable answer)")')"
  [ "$status" = 401 ] && echo "$out" | grep -q "\"reason\":\"$reason\"" &&
    ok "$name refused ($reason)" || bad "$name not refused with $reason: $out"
done
after=$(metric dipgate_bridge_webhooks_received_total "$IN_METRICS_PORT")
[ "$after" = "$before" ] && ok "the bridge received none of them (this receiver accepts energydip-nonprod signers only)" ||
  bad "a refused webhook reached the bridge"
say "nginx audit log (the 503 was answered by error_page after the upstream's 502, where"
say "dip_verify's variables are no longer set; the DIP's retry is verified afresh):"
sed 's/^/          /' "$WORK/nginx/inbound.log"

step "summary"
say "Kafka -> DIP: $(metric dipgate_bridge_delivered_total) delivered in $(metric dipgate_bridge_posts_total) POSTs," \
    "$(metric dipgate_bridge_receipts_total) receipts, $(metric dipgate_bridge_dead_lettered_total) dead letters"
say "DIP -> Kafka: $(metric dipgate_bridge_webhooks_accepted_total "$IN_METRICS_PORT") webhook accepted," \
    "$(metric dipgate_bridge_inbound_produced_total "$IN_METRICS_PORT") record produced"
if [ "$FAILED" = 0 ]; then
  say "every hop behaved as expected"
else
  say "$FAILED unexpected results; logs in $WORK (run with --keep to inspect)"
fi
[ "$FAILED" = 0 ]
