// Owns the meta-root client used by coordinators and tools: one gRPC channel per endpoint, leader following
// (a NotLeaderError's leader hint first, otherwise the next endpoint), bounded attempts with backoff and
// jitter, a deadline per call and per attempt, and the last good leader remembered for the next call.
//
// A write the meta-root REFUSED (invalid input, Eunomia refusal, invalid transition) is an answer, not a
// failure: it resolves with accepted=false and the revived typed error in `error`. Calls reject only when no
// answer could be had: UNAVAILABLE after the attempts ran out, DEADLINE_EXCEEDED, UNAUTHENTICATED.
//
// Retries: an attempt that hit a non-leader, a dead endpoint or its own attempt timeout is retried elsewhere.
// A timed-out write may still have committed, so a retried write can apply twice; Eunomia commands and fences
// are idempotent for the same caller, and callers of append() should append events that tolerate a repeat.
import type * as grpc from '@grpc/grpc-js';
import { NokvError, NotLeaderError, TimeoutError, UnavailableError, reviveError, type ErrorCode } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/log.js';
import type { Clock } from '../common/clock.js';
import { defaultPrng, type Prng } from '../common/prng.js';
import { retrying, type RetryPolicy } from '../common/retry.js';
import { createClient, unaryCall } from '../transport/index.js';
import {
  DEFAULT_ATTEMPT_TIMEOUT_MS,
  DEFAULT_CLIENT_DEADLINE_MS,
  DEFAULT_MAX_ATTEMPTS,
  CLIENT_BACKOFF_BASE_MS,
  CLIENT_BACKOFF_MAX_MS,
  CLIENT_BACKOFF_JITTER,
  WAIT_TAIL_CALL_SLACK_MS,
} from './limits.js';
import type {
  CommandOutcome,
  Cursor,
  FenceRequest,
  HandoverCommand,
  RootEvent,
  RootState,
  StateSummary,
  TenureCommand,
} from './state/index.js';
import {
  METADATA_ROOT_SERVICE,
  cursorFromMsg,
  cursorToMsg,
  fenceToMsg,
  handoverToMsg,
  metadataRootProto,
  outcomeFromMsg,
  parseJson,
  tailFromMsg,
  tenureToMsg,
  viewFromMsg,
  type OutcomeData,
  type ReplicaView,
} from './wire.js';
import { eventsToMsg } from './event-wire.js';
import type { CommandResponse__Output } from '../generated/proto/nokv/meta/v1/CommandResponse.js';
import type { SnapshotResponse__Output } from '../generated/proto/nokv/meta/v1/SnapshotResponse.js';
import type { StatusResponse__Output } from '../generated/proto/nokv/meta/v1/StatusResponse.js';
import type { TailResponse__Output } from '../generated/proto/nokv/meta/v1/TailResponse.js';
import type { TailEntry } from './server/tail-hub.js';
import { stateFromMsg, summaryFromMsg } from './state-wire.js';

export type {
  CommandOutcome,
  Cursor,
  FenceRequest,
  HandoverCommand,
  RootEvent,
  RootState,
  StateSummary,
  TenureCommand,
  TenureView,
  Legacy,
  Handover,
  Frontiers,
} from './state/index.js';
export type { ReplicaView } from './wire.js';
export type { TailEntry } from './server/tail-hub.js';

export interface MetaRootClientOptions {
  /** Client addresses (`host:port`) of the meta-root replicas. */
  endpoints: string[];
  /** Cluster bearer token, sent on every call (reads ignore it). */
  token?: string;
  /** Whole-call deadline, attempts and backoff included. */
  deadlineMs?: number;
  /** One attempt's deadline. */
  attemptTimeoutMs?: number;
  maxAttempts?: number;
  logger?: Logger;
  /** Backoff jitter. */
  prng?: Prng;
  /** Time for the call deadline and backoff sleeps (default: real time). */
  clock?: Clock;
}

export interface StatusReply {
  view: ReplicaView;
  last_index: number;
  snapshot_index: number;
  voters: number[];
  summary: StateSummary;
}

export interface SnapshotReply {
  state: RootState;
  cursor: Cursor;
  view: ReplicaView;
  /** Answered by a follower from its applied state (linearizable reads are confirmed with the leader anyway). */
  follower_view: boolean;
}

export interface WaitTailReply {
  /** Continue from here. */
  cursor: Cursor;
  entries: TailEntry[];
  /** `after` is older than the replica retains: reload snapshot(), then tail from its cursor. */
  snapshot_required: boolean;
  /** Tailing from any cursor at or after this needs no snapshot. */
  oldest: Cursor;
  view: ReplicaView;
}

interface CallOptions {
  deadlineMs?: number;
  attemptTimeoutMs?: number;
  /** Send to this endpoint only (no leader following). */
  endpoint?: string;
}

const REFUSAL_CODES = new Set<ErrorCode>(['INVALID_ARGUMENT', 'FAILED_PRECONDITION']);

export class MetaRootClient {
  private readonly endpoints: string[];
  private readonly clients = new Map<string, grpc.Client>();
  private readonly log: Logger;
  private readonly prng: Prng;
  private preferred?: string;
  private next = 0;
  private closed = false;

  constructor(private readonly opts: MetaRootClientOptions) {
    if (opts.endpoints.length === 0) throw new RangeError('MetaRootClient needs at least one endpoint');
    this.endpoints = [...new Set(opts.endpoints)];
    this.log = opts.logger ?? silentLogger();
    this.prng = opts.prng ?? defaultPrng();
  }

  /** The endpoint that last answered a write (the leader as far as this client knows). */
  get leader(): string | undefined {
    return this.preferred;
  }

  async status(opts: CallOptions = {}): Promise<StatusReply> {
    const res = await this.call<StatusResponse__Output>('Status', {}, opts, false);
    return {
      view: viewFromMsg(res.view),
      last_index: Number(res.last_index),
      snapshot_index: Number(res.snapshot_index),
      voters: res.voters.map(Number),
      // A server from before the typed summary sends only the JSON.
      summary: res.summary ? summaryFromMsg(res.summary) : (parseJson(res.summary_json, 'summary_json') as StateSummary),
    };
  }

  async snapshot(req: { linearizable?: boolean } = {}, opts: CallOptions = {}): Promise<SnapshotReply> {
    const res = await this.call<SnapshotResponse__Output>('Snapshot', { linearizable: req.linearizable ?? false }, opts, false);
    return {
      state: res.state ? stateFromMsg(res.state) : (parseJson(res.state_json, 'state_json') as RootState),
      cursor: cursorFromMsg(res.cursor),
      view: viewFromMsg(res.view),
      follower_view: res.follower_view,
    };
  }

  append(events: RootEvent[], opts: CallOptions = {}): Promise<CommandOutcome> {
    return this.write('Append', { events: eventsToMsg(events) }, opts);
  }

  fenceAllocator(req: FenceRequest, opts: CallOptions = {}): Promise<CommandOutcome> {
    return this.write('FenceAllocator', fenceToMsg(req), opts);
  }

  applyTenure(cmd: TenureCommand, opts: CallOptions = {}): Promise<CommandOutcome> {
    return this.write('ApplyTenure', tenureToMsg(cmd), opts);
  }

  applyHandover(cmd: HandoverCommand, opts: CallOptions = {}): Promise<CommandOutcome> {
    return this.write('ApplyHandover', handoverToMsg(cmd), opts);
  }

  /** Long-poll: what was applied after `after`, waiting up to timeoutMs (capped by the server) for something. */
  async waitTail(req: { after: Cursor; timeoutMs: number }, opts: CallOptions = {}): Promise<WaitTailReply> {
    const timeoutMs = Math.max(0, Math.floor(req.timeoutMs));
    const deadlineMs = opts.deadlineMs ?? Math.max(this.opts.deadlineMs ?? DEFAULT_CLIENT_DEADLINE_MS, timeoutMs + WAIT_TAIL_CALL_SLACK_MS);
    const attemptTimeoutMs = opts.attemptTimeoutMs ?? timeoutMs + WAIT_TAIL_CALL_SLACK_MS;
    const res = await this.call<TailResponse__Output>('WaitTail', { after: cursorToMsg(req.after), timeout_ms: timeoutMs }, { ...opts, deadlineMs, attemptTimeoutMs }, false);
    return tailFromMsg(res);
  }

  close(): void {
    this.closed = true;
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  // ---- internals ------------------------------------------------------------------------------------------------

  private async write(method: string, req: unknown, opts: CallOptions): Promise<CommandOutcome> {
    try {
      const res = await this.call<CommandResponse__Output>(method, req, opts, true);
      return { ...outcomeFromMsg(res), error: null };
    } catch (err) {
      const refused = asRefusal(err);
      if (refused) return refused;
      throw err;
    }
  }

  private client(addr: string): grpc.Client {
    let c = this.clients.get(addr);
    if (!c) {
      c = createClient(metadataRootProto().clientConstructor(METADATA_ROOT_SERVICE), addr);
      this.clients.set(addr, c);
    }
    return c;
  }

  private pick(hint: string | undefined): string {
    if (hint) return hint;
    if (this.preferred) return this.preferred;
    const addr = this.endpoints[this.next % this.endpoints.length]!;
    this.next++;
    return addr;
  }

  private async call<T>(method: string, req: unknown, opts: CallOptions, write: boolean): Promise<T> {
    if (this.closed) throw new UnavailableError('meta-root client is closed');
    const deadlineMs = opts.deadlineMs ?? this.opts.deadlineMs ?? DEFAULT_CLIENT_DEADLINE_MS;
    const attemptMs = opts.attemptTimeoutMs ?? this.opts.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS;
    const maxAttempts = opts.endpoint ? 1 : (this.opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS);
    const policy = rootCallPolicy(deadlineMs, attemptMs, maxAttempts);
    let hint: string | undefined;
    let addr = '';
    // Endpoints that did not answer during this call: a stale leader hint naming one of them (followers keep
    // naming a dead leader until they elect a new one) is a reason to back off, not to retry at once.
    const unreachable = new Set<string>();
    return retrying<T>({
      policy,
      prng: this.prng,
      ...(this.opts.clock ? { clock: this.opts.clock } : {}),
      attempt: async ({ deadlineMs: left }) => {
        addr = opts.endpoint ?? this.pick(hint);
        hint = undefined;
        const res = await unaryCall<unknown, T>(this.client(addr), method, req, {
          deadlineMs: Math.max(1, left),
          ...(this.opts.token ? { token: this.opts.token } : {}),
        });
        if (write || this.preferred === undefined) this.preferred = addr;
        return res;
      },
      onFailure: (err) => {
        if (this.preferred === addr) this.preferred = undefined;
        if (err instanceof NotLeaderError) {
          const leaderAddr = typeof err.details.leaderAddr === 'string' ? err.details.leaderAddr : '';
          if (leaderAddr && leaderAddr !== addr && !unreachable.has(leaderAddr)) {
            hint = leaderAddr;
            this.log.debug({ method, from: addr, leader: leaderAddr }, 'meta-root: following the leader');
            return 'now';
          }
          return 'backoff';
        }
        if (err instanceof UnavailableError || err instanceof TimeoutError) {
          unreachable.add(addr);
          return 'backoff';
        }
        return 'stop';
      },
      onBackoff: (wait, err) => this.log.debug({ method, addr, err: (err as Error).message, wait }, 'meta-root: attempt failed; retrying'),
      exhausted: (lastErr) => {
        const why = lastErr instanceof Error ? lastErr.message : String(lastErr ?? 'deadline passed');
        if (lastErr instanceof TimeoutError) return new TimeoutError(`meta-root ${method}: no answer within ${deadlineMs} ms (${why})`);
        return new UnavailableError(`meta-root ${method}: no ${write ? 'leader' : 'replica'} answered (${why})`, { endpoints: this.endpoints });
      },
    });
  }
}

/** The retry policy of one meta-root call (the whole-stack simulator's root port runs the same). */
export function rootCallPolicy(deadlineMs: number, attemptMs: number, maxAttempts = DEFAULT_MAX_ATTEMPTS): RetryPolicy {
  return {
    attemptDeadlineMs: attemptMs,
    callBudgetMs: deadlineMs,
    backoffBaseMs: CLIENT_BACKOFF_BASE_MS,
    backoffMaxMs: CLIENT_BACKOFF_MAX_MS,
    jitter: CLIENT_BACKOFF_JITTER,
    maxAttempts,
  };
}

/** A refused write's outcome, from the error the server sent; undefined when `err` is not a refusal. */
function asRefusal(err: unknown): CommandOutcome | undefined {
  if (!(err instanceof NokvError) || err instanceof NotLeaderError || !REFUSAL_CODES.has(err.code)) return undefined;
  const { root_outcome, ...details } = err.details as { root_outcome?: OutcomeData } & Record<string, unknown>;
  if (!root_outcome || typeof root_outcome !== 'object') return undefined;
  const error = reviveError({ name: err.name, code: err.code, message: err.message, details }) as NokvError;
  return { ...root_outcome, accepted: false, error };
}
