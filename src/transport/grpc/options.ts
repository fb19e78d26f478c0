// Owns the channel and server options every NoKV gRPC endpoint uses, with the reason for each value.
import type * as grpc from '@grpc/grpc-js';

/**
 * Largest message a client accepts or sends, and the largest request any server accepts (raft batches: a
 * region or rooted-state snapshot travels as one item of up to the transport's maxItemBytes, 60 MiB).
 */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
const MiB = 1024 * 1024;
/**
 * Largest request each service accepts, fitted to its real payloads. A server's receive limit is the largest
 * of its services' (grpc-js refuses a bigger message from its length prefix, before reading it), and the
 * guard refuses a request over its own service's limit before decoding it (RESOURCE_EXHAUSTED).
 */
export const SERVICE_MAX_REQUEST_BYTES: ReadonlyMap<string, number> = new Map([
  // Append carries at most 256 typed events (a few hundred bytes each in practice, 64 KiB at most); the other
  // commands are a few fields.
  ['nokv.meta.v1.MetadataRoot', 2 * MiB],
  // StoreHeartbeat lists a store's regions (~100 bytes each); PublishRootEvent one event of at most 64 KiB.
  ['nokv.coordinator.v1.Coordinator', 4 * MiB],
  // A Prewrite or one-phase commit of many mutations (values up to 1 MiB each); bigger transactions split.
  ['nokv.kv.v1.StoreKV', 16 * MiB],
  // Names of at most 255 bytes, opaque attributes of at most 16 KiB.
  ['nokv.fsmeta.v1.FSMetadata', 1 * MiB],
  ['nokv.raft.v1.RaftTransport', MAX_MESSAGE_BYTES],
  ['grpc.health.v1.Health', 64 * 1024],
  ['grpc.reflection.v1.ServerReflection', 64 * 1024],
  ['grpc.reflection.v1alpha.ServerReflection', 64 * 1024],
]);
/** Limit of a service missing from SERVICE_MAX_REQUEST_BYTES (tests' hand-made services). */
export const DEFAULT_MAX_REQUEST_BYTES = 4 * MiB;

/** The request limit of the method at `path` (`/package.Service/Method`): its service's. */
export function maxRequestBytesOf(path: string): number {
  const service = path.split('/')[1] ?? '';
  return SERVICE_MAX_REQUEST_BYTES.get(service) ?? DEFAULT_MAX_REQUEST_BYTES;
}
/**
 * Client keepalive: ping an idle connection every 5 s and give up on it 2 s after an unanswered ping. A
 * frozen (SIGSTOPped) peer is then noticed in about 7 s even with no call in flight. Correctness never
 * depends on this (leases have their own expiry); it only frees a stuck stream for reconnection.
 */
export const KEEPALIVE_TIME_MS = 5_000;
export const KEEPALIVE_TIMEOUT_MS = 2_000;
/**
 * Reconnect backoff of a channel after a failed dial. gRPC's defaults (1 s growing to 120 s) would leave a
 * client pointed at a restarted replica idle for minutes; failover needs seconds.
 */
export const INITIAL_RECONNECT_BACKOFF_MS = 100;
export const MAX_RECONNECT_BACKOFF_MS = 2_000;
/** Servers ping their clients less often: a dead client only costs a stream, not availability. */
export const SERVER_KEEPALIVE_TIME_MS = 10_000;

export function channelOptions(overrides: grpc.ChannelOptions = {}): grpc.ChannelOptions {
  return {
    'grpc.keepalive_time_ms': KEEPALIVE_TIME_MS,
    'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
    // Long-lived streams (raft, tails) are idle between bursts; keep probing them anyway.
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.initial_reconnect_backoff_ms': INITIAL_RECONNECT_BACKOFF_MS,
    'grpc.max_reconnect_backoff_ms': MAX_RECONNECT_BACKOFF_MS,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    // Retries would resend non-idempotent mutations behind our back; callers retry explicitly.
    'grpc.enable_retries': 0,
    ...overrides,
  };
}

export function serverOptions(overrides: grpc.ServerOptions = {}): grpc.ServerOptions {
  return {
    'grpc.keepalive_time_ms': SERVER_KEEPALIVE_TIME_MS,
    'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    ...overrides,
  };
}
