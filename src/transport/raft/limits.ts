// Owns the raft transport's explicit limits and their defaults.

export interface RaftTransportLimits {
  /** Items waiting per destination; when full the oldest is dropped and counted. */
  maxQueueItems: number;
  /** Items per batch; one flush sends one batch per destination unless more than this is queued. */
  maxBatchItems: number;
  /** Encoded bytes per batch; a bigger batch is split. A single item above maxItemBytes is dropped. */
  maxBatchBytes: number;
  /** A single encoded item larger than this is never sent (counted as dropped). */
  maxItemBytes: number;
  /** How long one dial may take before it counts as failed. */
  connectTimeoutMs: number;
  /** Reconnect backoff: first delay, cap, growth factor (jitter is applied on top). */
  backoffInitialMs: number;
  backoffMaxMs: number;
  backoffMultiplier: number;
  /** A stream that lived this long before failing resets the backoff to its first step. */
  stableStreamMs: number;
  /** How long close() waits for each outbound stream to finish cleanly before cancelling it. */
  closeGraceMs: number;
}

export const DEFAULT_RAFT_TRANSPORT_LIMITS: Readonly<RaftTransportLimits> = Object.freeze({
  maxQueueItems: 4096,
  maxBatchItems: 1024,
  maxBatchBytes: 4 * 1024 * 1024,
  maxItemBytes: 60 * 1024 * 1024,
  connectTimeoutMs: 2_000,
  backoffInitialMs: 50,
  backoffMaxMs: 2_000,
  backoffMultiplier: 2,
  stableStreamMs: 1_000,
  closeGraceMs: 200,
});

export function resolveLimits(partial: Partial<RaftTransportLimits> = {}): RaftTransportLimits {
  const limits = { ...DEFAULT_RAFT_TRANSPORT_LIMITS, ...partial };
  for (const [k, v] of Object.entries(limits)) {
    if (!(typeof v === 'number' && v > 0 && Number.isFinite(v))) throw new Error(`raft transport limit ${k} must be a positive number, got ${v}`);
  }
  return limits;
}
