// Owns the named limits and defaults of the meta-root service (server, client and role process), with the
// reason for each value. Limits of the rooted state itself (events per batch, bytes per event) live in state/.
import { MAX_EVENTS_PER_BATCH } from './state/index.js';

/** Most events one Append may carry: one Append is one raft entry, applied atomically. */
export const MAX_APPEND_EVENTS = MAX_EVENTS_PER_BATCH;

/** Applied commands (with events) the tail hub keeps in memory; an older position needs a snapshot. */
export const DEFAULT_TAIL_RETAIN_ENTRIES = 4096;
/** Most entries in one Tail/WaitTail answer; the caller continues from the answer's cursor. */
export const MAX_TAIL_PAGE_ENTRIES = 256;
/** Long-polls waiting at once on one replica; more are refused (RESOURCE_EXHAUSTED) rather than queued. */
export const MAX_TAIL_WAITERS = 1024;
/**
 * Messages the tail actor's mailbox holds. Every applied command is one message, and a follower catching up
 * applies thousands in one turn; if it still overflows, the tail is reset at the applied cursor (readers reload
 * a snapshot) rather than skipping entries.
 */
export const TAIL_ACTOR_MAILBOX_LIMIT = 65_536;
/** A tail read's ask waits for the long-poll itself plus this much for the actor to answer. */
export const TAIL_ASK_SLACK_MS = 1_000;
/** Upper bound of one WaitTail wait, whatever the caller asks for. */
export const MAX_WAIT_TAIL_MS = 10_000;
/**
 * A WaitTail answers at least this long before the call's deadline (and never later than 80 % of the time
 * left), so the empty answer reaches the caller instead of a DEADLINE_EXCEEDED.
 */
export const WAIT_TAIL_DEADLINE_MARGIN_MS = 100;
/** How long a Tail stream waits between checks for a cancelled call when nothing is committed. */
export const TAIL_STREAM_POLL_MS = 1_000;

/** A leader-side write waits this long (at most) for its entry to be committed and applied. */
export const DEFAULT_WRITE_TIMEOUT_MS = 5_000;

/**
 * Raft timing of the root group, in ticks of topology.meta_root.tick_ms (50 ms): a follower campaigns after
 * 10..20 ticks (0.5-1 s) without a leader, and the leader heartbeats every 2 ticks (100 ms). With pre-vote and
 * check-quorum in the core this brings the next write after a leader crash in well under 1.5 s.
 */
export const DEFAULT_ELECTION_TICKS = 10;
export const DEFAULT_HEARTBEAT_TICKS = 2;
/** Snapshot the rooted state every this many applied entries; keep this many entries behind it. */
export const DEFAULT_SNAPSHOT_EVERY_ENTRIES = 10_000;
export const DEFAULT_COMPACTION_SLACK_ENTRIES = 1_000;
/** The raft group id of the root group (the only group of a meta-root process). */
export const ROOT_GROUP_ID = 1;

/** Client: the whole call, all attempts and backoff included. */
export const DEFAULT_CLIENT_DEADLINE_MS = 5_000;
/** Client: one attempt against one endpoint (a frozen replica costs this much, not the whole deadline). */
export const DEFAULT_ATTEMPT_TIMEOUT_MS = 2_000;
/** Client: attempts per call before it gives up with UNAVAILABLE. */
export const DEFAULT_MAX_ATTEMPTS = 40;
/** Client: backoff between attempts that got no leader hint, doubled per attempt up to the cap, ±50 % jitter. */
export const CLIENT_BACKOFF_BASE_MS = 25;
export const CLIENT_BACKOFF_MAX_MS = 400;
export const CLIENT_BACKOFF_JITTER = 0.5;
/** Client: extra time a WaitTail call's deadline allows beyond the wait it asks for. */
export const WAIT_TAIL_CALL_SLACK_MS = 1_000;
