// Owns the process's Prometheus metrics: one prom-client registry per process (as expvar is one per process),
// the default process metrics, and every NoKV metric, defined here once so names, labels and buckets are
// consistent and a reader finds them all in one place. A role sets its `role`/`node` labels at start; the
// expvar server exposes the registry on `/metrics`.
//
// Metrics are recorded in the thread that owns the work; actors placed on worker threads (`--workers` > 0)
// record into their thread's registry, which is not exported (see docs/operations.md).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
let defaultsOn = false;

/** Labels every series of this process carries; called once by the role runtime. */
export function setProcessLabels(labels: { role: string; node: string }): void {
  registry.setDefaultLabels(labels);
  if (!defaultsOn) {
    collectDefaultMetrics({ register: registry, prefix: 'nokv_' }); // nokv_process_cpu_seconds_total, nokv_nodejs_eventloop_lag_seconds, …
    defaultsOn = true;
  }
}

/** Latency buckets in seconds: 0.25 ms to 10 s (raft commits are milliseconds; long-polls are cut at 10 s). */
const LATENCY_BUCKETS = [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

export const rpcSeconds = new Histogram({
  name: 'nokv_grpc_server_handling_seconds',
  help: 'gRPC server call latency, by service, method and status code (streams: until they end)',
  labelNames: ['service', 'method', 'code'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

export const raftProposeSeconds = new Histogram({
  name: 'nokv_raft_propose_commit_seconds',
  help: 'raft proposal latency on the leader: propose until committed and applied locally',
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

export const storageFsyncSeconds = new Histogram({
  name: 'nokv_storage_fsync_seconds',
  help: 'one group commit of the LMDB environment: transaction until on disk',
  buckets: LATENCY_BUCKETS,
  registers: [registry],
});

export const storageBatchWrites = new Histogram({
  name: 'nokv_storage_group_commit_writes',
  help: 'writes covered by one group commit (one fsync)',
  buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
  registers: [registry],
});

export const tsoIssued = new Counter({
  name: 'nokv_tso_timestamps_total',
  help: 'timestamps this coordinator issued as the lease holder',
  registers: [registry],
});

export const idsAllocated = new Counter({
  name: 'nokv_ids_allocated_total',
  help: 'IDs this coordinator allocated as the lease holder',
  registers: [registry],
});

/** Gauges read from a role's state at scrape time (see gaugeFrom). */
export function gaugeFrom(name: string, help: string, labelNames: string[], read: () => Array<{ labels?: Record<string, string>; value: number }>): Gauge {
  return new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of read()) this.set(s.labels ?? {}, s.value);
    },
  });
}

/** The registry in Prometheus text format. */
export function exposition(): Promise<string> {
  return registry.metrics();
}

export const EXPOSITION_CONTENT_TYPE = registry.contentType;
