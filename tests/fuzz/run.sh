#!/usr/bin/env bash
# Builds every fuzz target with clang's libFuzzer plus AddressSanitizer and
# UndefinedBehaviorSanitizer, and fuzzes each for SECONDS (default 60),
# starting from its seed corpus (tests/fuzz/corpus/<target>). New inputs go
# to a work corpus; crashes, leaks and timeouts stop the run and are kept in
# the work directory. Prints executions per target.
#   tests/fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(base64 date certificate_header verify prepare_record bridge_config message_array schema ocsp_response)
command -v clang++ >/dev/null || { echo "clang++ is needed: apt-get install clang libclang-rt-14-dev"; exit 1; }

OUT=${DIPGATE_FUZZ_DIR:-/tmp/dipgate-fuzz}
mkdir -p "$OUT"
CORE=$(ls common/*.cc | grep -v _test.cc | grep -v pki.cc)
# pointer-overflow is left out: Debian's RapidJSON 1.1.0 adds an offset to a
# null pointer in internal/stack.h (Reserve) on every parse, which UBSan
# reports before any of our code runs; newer RapidJSON releases fixed it.
FLAGS=(-std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize=pointer-overflow
       -fno-sanitize-recover=undefined -DRAPIDJSON_SCHEMA_USE_INTERNALREGEX=0 -I. -I"$OUT/gen")
# The DIP protocol half of the core, its generated response-code table and
# the schemas it validates against (third_party/dip_api/convert.py).
DIP=(common/dip/message.cc common/dip/schema.cc common/dip/codes.cc common/dip/response.cc)
mkdir -p "$OUT/gen/third_party/dip_api"
/usr/bin/python3 third_party/dip_api/convert.py --spec third_party/dip_api \
    --codes-inc "$OUT/gen/third_party/dip_api/response_codes.inc"
/usr/bin/python3 third_party/dip_api/convert.py --spec third_party/dip_api --out "$OUT/schemas"
export DIPGATE_SCHEMAS="$OUT/schemas"
for t in "${TARGETS[@]}"; do
  extra=()
  case "$t" in
    verify|ocsp_response) extra=(common/pki.cc) ;;
    prepare_record) extra=(kafka_bridge/delivery.cc "${DIP[@]}") ;;
    bridge_config) extra=(kafka_bridge/config.cc) ;;
    message_array|schema) extra=("${DIP[@]}") ;;
  esac
  echo "== $t: building"
  clang++ "${FLAGS[@]}" "tests/fuzz/fuzz_$t.cc" $CORE "${extra[@]}" -lssl -lcrypto -o "$OUT/fuzz_$t"
  mkdir -p "$OUT/corpus_$t"
  echo "== $t: fuzzing for $SECONDS_EACH s"
  (cd "$OUT" && "./fuzz_$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 "corpus_$t" "$OLDPWD/tests/fuzz/corpus/$t" 2>"$OUT/$t.log") || {
    echo "$t: FAILED, see $OUT/$t.log and the crash-* files in $OUT"; tail -30 "$OUT/$t.log"; exit 1; }
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$OUT/$t.log")
  rate=$(awk '/stat::average_exec_per_sec/ {print $2}' "$OUT/$t.log")
  cov=$(grep -o 'cov: [0-9]*' "$OUT/$t.log" | tail -1)
  echo "$t: $execs executions ($rate/s), $cov, corpus $(ls "$OUT/corpus_$t" | wc -l) new inputs"
done
