#!/usr/bin/env bash
# The KV chaos soak: the chaos test of test/chaos/kv-linearizability.test.ts run for longer, a number of
# times in a row, each with a fresh seed (printed; replay one with NOKV_CHAOS_SEED=N). Stops at the first
# failing run and keeps that run's history (JSON) for inspection.
#
#   scripts/chaos-soak.sh [SECONDS_PER_RUN=600] [RUNS=1]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
runs="${2:-1}"
npx tsc -p tsconfig.json
out="$(mktemp -d -t nokv-chaos-soak-XXXXXX)"
for i in $(seq 1 "$runs"); do
  seed="${NOKV_CHAOS_SEED:-$(( (RANDOM << 15 | RANDOM) + 1 ))}"
  echo "soak run $i/$runs: ${seconds}s of faults, seed $seed"
  if ! NOKV_CHAOS_SECONDS="$seconds" NOKV_CHAOS_SEED="$seed" NOKV_CHAOS_HISTORY="$out/history-$seed.json" \
      npx mocha dist/test/chaos/kv-linearizability.test.js; then
    echo "soak run $i failed: seed $seed, history in $out/history-$seed.json"
    exit 1
  fi
  rm -f "$out/history-$seed.json"
done
rmdir "$out"
echo "soak: $runs run(s) of ${seconds}s passed"
