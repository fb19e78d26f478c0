// Owns the channel and server options every NoKV gRPC endpoint uses, with the reason for each value.
import type * as grpc from '@grpc/grpc-js';

/** Largest message either side accepts or sends. Raft snapshots travel in chunks well below this. */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
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
