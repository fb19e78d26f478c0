// Owns every numeric limit of the actor runtime in one place, so a reader can see what is bounded and why.

/** Messages an actor's mailbox holds before `tell` is refused with ResourceExhaustedError. */
export const DEFAULT_MAILBOX_LIMIT = 10_000;

/**
 * Envelopes waiting for one destination thread within one event-loop turn. The outbox is flushed every turn,
 * so this only bounds a burst; a sender that hits it is producing faster than any thread can consume.
 */
export const OUTBOX_LIMIT_PER_THREAD = 100_000;

/** Asks a thread may have outstanding at once (every one holds a timer and a closure). */
export const MAX_PENDING_ASKS = 100_000;

/** Default time an `ask` waits for its reply. */
export const DEFAULT_ASK_TIMEOUT_MS = 5_000;

/** Worker threads an ActorSystem may run; the machine has few cores and ten role processes share them. */
export const MAX_WORKER_THREADS = 16;

/**
 * How long a control call into a worker (spawn, stop, inspect) may take before it counts as failed. The first
 * one waits for the thread to load its modules, which takes seconds on a machine shared by many processes.
 */
export const CONTROL_CALL_TIMEOUT_MS = 30_000;

/** How long shutdown waits for a worker to stop its actors gracefully before terminating the thread. */
export const WORKER_SHUTDOWN_TIMEOUT_MS = 5_000;
