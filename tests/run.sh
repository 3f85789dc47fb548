#!/usr/bin/env bash
# Sets up the machine (deploy/setup.sh) and runs every test through Bazel,
# twice: as built for use, and built with AddressSanitizer and
# UndefinedBehaviorSanitizer (--config=asan; nginx loads the sanitized
# module with the runtimes preloaded). The last line is "N passed, N failed",
# counting test cases of both runs. Extra arguments go to `bazel test`.
set -uo pipefail
cd "$(dirname "$0")/.."

deploy/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }

# The Kafka broker's jars, resolved once from Maven Central and cached.
export DIPGATE_KAFKA_LIBS=${DIPGATE_KAFKA_LIBS:-${XDG_CACHE_HOME:-$HOME/.cache}/dipgate/kafka-3.9.1}
tests/kafka/kafka.sh fetch || { echo "fetching Kafka failed"; echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
for config in default asan; do
  flags=()
  [ "$config" = asan ] && flags=(--config=asan)
  echo "== bazel test ${flags[*]:-} //..."
  bazel test "${flags[@]}" //... "$@" 2>&1 | tee "/tmp/dipgate-bazel-test-$config.log" |
    grep -E "^(//|Executed|FAIL|ERROR)"
  status=${PIPESTATUS[0]}
  counts=$(bazel query 'tests(//...)' 2>/dev/null |
    /usr/bin/python3 tests/count_results.py "$(bazel info "${flags[@]}" bazel-testlogs 2>/dev/null)" "$status")
  echo "$counts" | sed '$d'
  read -r p _ f _ <<<"$(echo "$counts" | tail -1)"
  echo "$config: $p passed, $f failed"
  passed=$((passed + p))
  failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
