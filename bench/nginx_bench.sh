#!/usr/bin/env bash
# nginx with the dipgate module under load (wrk on loopback): requests/s and
# latency of proxying a 2 KB signed JSON body to a local upstream, with and
# without dip_verify, and with dip_sign, measured in the same run and printed
# as ratios; dip_verify with dip_metrics counting (a second nginx, the same
# configuration plus a dip_metrics_zone) against the same without, runs
# interleaved; then worker RSS and open files before and after N verified
# requests. Not a test: figures depend on the machine.
#
#   bench/nginx_bench.sh [--seconds 10] [--requests 1000000]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN=10
SOAK_REQUESTS=1000000
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
    --requests) SOAK_REQUESTS=$2; shift 2 ;;
    *) echo "usage: $0 [--seconds N] [--requests N]"; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk"; exit 1; }

bazel build -c opt //nginx_module:ngx_http_dip_module.so //cli:dipctl >/dev/null 2>&1
BIN=$(bazel info -c opt bazel-bin 2>/dev/null)
MODULE=$BIN/nginx_module/ngx_http_dip_module.so
DIPCTL=$BIN/cli/dipctl

W=$(mktemp -d /tmp/dipgate-nginx-bench.XXXXXX)
cleanup() {
  [ -f "$W/logs/nginx.pid" ] && nginx -p "$W" -c "$W/nginx.conf" -s stop 2>/dev/null
  [ -f "$W/metered/logs/nginx.pid" ] && nginx -p "$W/metered" -c "$W/metered/nginx.conf" -s stop 2>/dev/null
  sleep 0.5; rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$W/logs" "$W/tmp"
"$DIPCTL" pki --out "$W/pki" >/dev/null 2>&1
FRONT=18480; BACK=18481
USER_LINE=""; [ "$(id -u)" = 0 ] && USER_LINE="user root root;"
cat > "$W/nginx.conf" <<CONF
load_module $MODULE;
$USER_LINE
worker_processes 1;
error_log $W/logs/error.log warn;
pid $W/logs/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $W/tmp/body; proxy_temp_path $W/tmp/proxy;
  fastcgi_temp_path $W/tmp/f; uwsgi_temp_path $W/tmp/u; scgi_temp_path $W/tmp/s;
  dip_sign_identity bench certificate=$W/pki/signer-rsa.pem key=$W/pki/signer-rsa.key;
  upstream back { server 127.0.0.1:$BACK; keepalive 64; }
  server {
    listen 127.0.0.1:$FRONT;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    location /plain { proxy_pass http://back/ok; }
    location /verify {
      dip_verify on;
      dip_verify_trusted_certificate $W/pki/ca-bundle.pem;
      dip_verify_crl $W/pki/crls.pem;
      dip_verify_window 1h;
      # One signed request serves both nginx instances (ports differ).
      dip_verify_destination http://dip-webhooks.example/verify;
      proxy_pass http://back/ok;
    }
    location /sign { dip_sign bench; proxy_pass http://back/ok; }
  }
  server { listen 127.0.0.1:$BACK; location /ok { return 200 "ok\n"; } }
}
CONF
# The same nginx with dip_metrics counting, on ports of its own (the
# metrics on 18484).
METERED=18482
mkdir -p "$W/metered/logs" "$W/metered/tmp"
sed -e "s|$W/logs|$W/metered/logs|g; s|$W/tmp|$W/metered/tmp|g" \
    -e "s|listen 127.0.0.1:$FRONT;|listen 127.0.0.1:$METERED;|" \
    -e "s|127.0.0.1:$BACK|127.0.0.1:18483|g" \
    -e "s|^http {|http {\n  dip_metrics_zone benchmetrics:1m;\n  server { listen 127.0.0.1:18484; location = /metrics { dip_metrics; } }|" \
    "$W/nginx.conf" > "$W/metered/nginx.conf"
python3 - "$W/body.json" <<'PY'
import json, sys
items = {f"item{i}": "value-value-value" for i in range(80)}
body = json.dumps({"CommonBlock": {"S0": {"interfaceID": "IF-033"}}, "CustomBlock": items})
open(sys.argv[1], "w").write(body[:2048 - 2] + "}}" if len(body) > 2048 else body)
PY
nginx -p "$W" -c "$W/nginx.conf"
nginx -p "$W/metered" -c "$W/metered/nginx.conf"
sleep 0.5
"$DIPCTL" sign --cert "$W/pki/signer-rsa.pem" --key "$W/pki/signer-rsa.key" \
  --url "http://dip-webhooks.example/verify" --body "$W/body.json" > "$W/headers"

# wrk script: POST the body with the signed headers.
{
  echo "wrk.method = 'POST'"
  echo "local f = io.open('$W/body.json', 'rb'); wrk.body = f:read('*a'); f:close()"
  echo "wrk.headers['Content-Type'] = 'application/json'"
  while IFS= read -r line; do
    echo "wrk.headers['${line%%: *}'] = '${line#*: }'"
  done < "$W/headers"
} > "$W/post.lua"

run() {  # path [port] -> "rps p99_ms"
  wrk -t1 -c16 -d"${SECONDS_PER_RUN}s" --latency -s "$W/post.lua" "http://127.0.0.1:${2:-$FRONT}$1" > "$W/wrk.out"
  local rps p99 non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' "$W/wrk.out")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' "$W/wrk.out")
  non2xx=$(awk '/Non-2xx/ {print $5}' "$W/wrk.out")
  if [ -n "$non2xx" ]; then echo "error: $non2xx non-2xx answers on $1" >&2; exit 1; fi
  echo "$rps $p99"
}

echo "nginx + dipgate: 1 worker, wrk -t1 -c16, ${SECONDS_PER_RUN}s per run, 2 KB body, keep-alive upstream"
wrk -t1 -c16 -d2s -s "$W/post.lua" "http://127.0.0.1:$FRONT/plain" >/dev/null   # warm-up
read -r plain1 plain1_p99 < <(run /plain)
read -r verify verify_p99 < <(run /verify)
read -r sign sign_p99 < <(run /sign)
read -r plain2 plain2_p99 < <(run /plain)
plain=$(awk -v a="$plain1" -v b="$plain2" 'BEGIN {print (a + b) / 2}')
plain_p99=$(awk -v a="$plain1_p99" -v b="$plain2_p99" 'BEGIN {print (a + b) / 2}')
printf '\n%-10s %10s %10s %8s %14s\n' location "req/s" "p99 ms" ratio "p99 added ms"
printf '%-10s %10.0f %10.2f %8s %14s\n' plain "$plain" "$plain_p99" "1.000" "-"
for row in "verify $verify $verify_p99" "sign $sign $sign_p99"; do
  set -- $row
  awk -v n="$1" -v r="$2" -v p="$3" -v pr="$plain" -v pp="$plain_p99" \
    'BEGIN {printf "%-10s %10.0f %10.2f %8.3f %14.2f\n", n, r, p, r / pr, p - pp}'
done
echo "(targets: ratio >= 0.8, p99 added <= 1 ms; plain is the mean of runs before and after)"

# dip_verify with and without dip_metrics: the same configuration in two
# nginx instances, one with a dip_metrics_zone; runs interleaved (off, on,
# on, off, twice), each side's mean compared.
off=0; on=0
for _ in 1 2; do
  read -r a _ < <(run /verify)
  read -r b _ < <(run /verify $METERED)
  read -r c _ < <(run /verify $METERED)
  read -r d _ < <(run /verify)
  off=$(awk -v s="$off" -v x="$a" -v y="$d" 'BEGIN {print s + x + y}')
  on=$(awk -v s="$on" -v x="$b" -v y="$c" 'BEGIN {print s + x + y}')
done
awk -v off="$off" -v on="$on" 'BEGIN {
  printf "\ndip_verify without dip_metrics %10.0f req/s\ndip_verify with dip_metrics    %10.0f req/s\nratio (with / without)         %10.3f  (target >= 0.98)\n", off / 4, on / 4, on / off }'
counted=$(curl -s "http://127.0.0.1:18484/metrics" | awk '/^dipgate_nginx_verify_total\{reason="ok"\}/ {print $2}')
echo "the metered nginx counted $counted verified requests"

pid=$(pgrep -P "$(cat "$W/logs/nginx.pid")" | head -1)
[ -n "${DIPGATE_BENCH_PROFILE:-}" ] && { perf record -e cpu-clock -g -o "$DIPGATE_BENCH_PROFILE" -p "$pid" -- sleep 6 & sleep 0.2; wrk -t1 -c16 -d5s -s "$W/post.lua" "http://127.0.0.1:$FRONT/verify" >/dev/null; wait; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
fds() { ls "/proc/$pid/fd" | wc -l; }
# Baseline after a warm-up, so connections pooled to the upstream and the
# certificate cache already exist.
wrk -t1 -c16 -d2s -s "$W/post.lua" "http://127.0.0.1:$FRONT/verify" >/dev/null
rss0=$(rss); fd0=$(fds)
echo
echo "soak: $SOAK_REQUESTS verified requests through worker $pid"
done_requests=0
while [ "$done_requests" -lt "$SOAK_REQUESTS" ]; do
  wrk -t1 -c16 -d20s -s "$W/post.lua" "http://127.0.0.1:$FRONT/verify" > "$W/soak.out"
  n=$(awk '/requests in/ {print $1}' "$W/soak.out")
  done_requests=$((done_requests + n))
  echo "  $done_requests requests, RSS $(rss) kB, open files $(fds)"
done
rss1=$(rss); fd1=$(fds)
echo "worker RSS: $rss0 kB -> $rss1 kB (growth $(( (rss1 - rss0) )) kB; target < 5120 kB)"
echo "open files: $fd0 -> $fd1"
grep -E "\[(alert|emerg|crit)\]" "$W/logs/error.log" && { echo "nginx logged alerts"; exit 1; }
echo "no [alert], [crit] or [emerg] in the error log"
