#!/usr/bin/env bash
# Installs etcd 3.4 from Debian (packages etcd-server and etcd-client) so the benchmarks can run their side-by-side
# etcd rows (bench/raft.bench.ts, bench/kv.bench.ts): they skip those rows when no `etcd` binary is on PATH.
# For benchmarking only; `npm test` does not need it. Needs root (apt-get).
#
#   scripts/install-etcd.sh
set -euo pipefail
if command -v etcd >/dev/null 2>&1; then
  etcd --version | head -1
  exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server etcd-client
# The package starts a single-member etcd on the default ports as a service where a service manager runs; the
# benchmarks start their own three-member clusters on free ports, so stop it if it came up.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet etcd 2>/dev/null; then systemctl stop etcd || true; fi
etcd --version | head -1
