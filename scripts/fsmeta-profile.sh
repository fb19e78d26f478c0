#!/usr/bin/env bash
# Where fsmeta operations spend their CPU: a real cluster with every Node process under the V8 CPU profiler
# (bench/cpu-profile-preload.ts, loaded through NODE_OPTIONS since --cpu-prof may not go there), a phase of
# one-phase KV puts through the store client (FSMETA_PROFILE_PUT_CLIENTS, default 1), three phases (Create,
# Lookup, ReadDirPlus of 512 entries) of 8 gRPC clients each, then a table per phase of CPU
# microseconds per operation by process and layer (bench/profile-summary.ts). Profiles stay in the directory
# printed at the end (open them in Chrome DevTools for the call trees).
#
#   scripts/fsmeta-profile.sh [PHASE_MS=15000] [CLIENTS=8]
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.json
out="$(mktemp -d -t nokv-fsmeta-profile-XXXXXX)"
FSMETA_PROFILE_DIR="$out" FSMETA_PROFILE_PHASE_MS="${1:-15000}" FSMETA_PROFILE_CLIENTS="${2:-8}" \
  NODE_OPTIONS="--import=$PWD/dist/bench/cpu-profile-preload.js" node dist/bench/fsmeta-profile.js
node dist/bench/profile-summary.js "$out"
echo "profiles: $out"
