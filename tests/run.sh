#!/usr/bin/env bash
# Sets up the machine (deploy/setup.sh) and runs every test through Bazel.
# The last line is "N passed, N failed", counting test cases.
set -uo pipefail
cd "$(dirname "$0")/.."

deploy/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }

# The Kafka broker's jars, resolved once from Maven Central and cached.
export DIPGATE_KAFKA_LIBS=${DIPGATE_KAFKA_LIBS:-${XDG_CACHE_HOME:-$HOME/.cache}/dipgate/kafka-3.9.1}
tests/kafka/kafka.sh fetch || { echo "fetching Kafka failed"; echo "0 passed, 1 failed"; exit 1; }

bazel test //... "$@" 2>&1 | tee /tmp/dipgate-bazel-test.log | grep -E "^(//|Executed|FAIL|ERROR)"
status=${PIPESTATUS[0]}

bazel query 'tests(//...)' 2>/dev/null |
  /usr/bin/python3 tests/count_results.py "$(bazel info bazel-testlogs 2>/dev/null)" "$status"
