// Owns the MetadataRoot gRPC front of one replica. Reads (Status, Snapshot, Tail, WaitTail) are served by any
// replica from its applied state and say which replica answered and how far it had applied. Writes are the
// leader's: a follower answers NotLeaderError naming the leader's id and client address; the leader refuses
// obvious failures before proposing (evaluateCommand), proposes, and answers with the APPLIED outcome, which
// on a refusal travels in the error's details as `root_outcome`. Mutations need the cluster token (checked by the server's guard, src/transport/grpc/auth.ts).
import type * as grpc from '@grpc/grpc-js';
import type { Clock } from '../../common/clock.js';
import { InvalidArgumentError, NokvError, NotLeaderError, UnavailableError, reviveError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { traceOf, unaryHandler, type ServiceBinding } from '../../transport/index.js';
import { actorTrace, type TraceContext } from '../../actors/index.js';
import {
  commands,
  encodeCommand,
  evaluateCommand,
  stateSummary,
  tenureView,
  validateBatch,
  type Cursor,
  type RootCommand,
  type RootState,
} from '../state/index.js';
import {
  DEFAULT_WRITE_TIMEOUT_MS,
  MAX_APPEND_EVENTS,
  MAX_APPEND_JSON_BYTES,
  MAX_WAIT_TAIL_MS,
  TAIL_STREAM_POLL_MS,
  WAIT_TAIL_DEADLINE_MARGIN_MS,
} from '../limits.js';
import {
  METADATA_ROOT_SERVICE,
  cursorFromMsg,
  cursorToMsg,
  fenceFromMsg,
  handoverFromMsg,
  metadataRootProto,
  outcomeData,
  outcomeToMsg,
  parseJson,
  tailToMsg,
  tenureFromMsg,
  viewToMsg,
  type CommandResponseMsg,
  type CursorMsg,
  type FenceRequestMsg,
  type HandoverRequestMsg,
  type OutcomeData,
  type ReplicaView,
  type TailResponseMsg,
  type TenureRequestMsg,
} from '../wire.js';
import type { RootPeer } from './peer.js';
import type { TailPage } from './tail-hub.js';

/** Reads of the replica's tail (the tail actor's adapter in the role). */
export interface TailReader {
  wait(after: Cursor, timeoutMs: number, trace?: TraceContext): Promise<TailPage>;
}

export interface RootNodeHandle {
  peer: RootPeer;
  hub: TailReader;
}

export interface MetadataRootServiceOptions {
  /** The replica's live parts; undefined while they (re)start, which answers UNAVAILABLE. */
  node: () => RootNodeHandle | undefined;
  /** Client address of a meta-root node id ('' when unknown). */
  leaderAddrOf: (nodeId: number) => string;
  clock: Clock;
  logger: Logger;
  writeTimeoutMs?: number;
}

export interface MetadataRootService {
  binding: ServiceBinding;
  /** Ends open Tail streams so a server shutdown does not wait for them. */
  endStreams(): void;
}

/** What a replica is, right now, for the `view` of every answer. */
export function replicaView(peer: RootPeer, leaderAddrOf: (id: number) => string): ReplicaView {
  const st = peer.group.status();
  return {
    node_id: st.nodeId,
    is_leader: st.role === 'leader',
    leader_id: st.leaderId,
    leader_addr: st.leaderId ? leaderAddrOf(st.leaderId) : '',
    raft_term: st.term,
    commit_index: st.commitIndex,
    applied_index: st.appliedIndex,
    applied_cursor: { ...peer.sm.state.last_applied },
  };
}

/** The outcome of a command refused before it was proposed: the state as it is. */
function unchangedOutcome(state: RootState, nowMs: number | null): OutcomeData {
  return {
    accepted: false,
    events: [],
    tenure: nowMs === null ? null : tenureView(state, nowMs),
    legacy: state.legacy,
    handover: state.handover,
    id_fence: state.id_fence,
    tso_fence: state.tso_fence,
    cursor: { ...state.last_applied },
  };
}

/** The same typed error with the outcome attached, so the client can return it instead of throwing. */
function refusal(err: NokvError, outcome: OutcomeData): Error {
  return reviveError({ name: err.name, code: err.code, message: err.message, details: { ...err.details, root_outcome: outcome } });
}

function nowOf(command: RootCommand): number | null {
  if (command.type === 'append') return null;
  return command.type === 'fence' ? command.req.now_ms : command.cmd.now_ms;
}

/** Milliseconds left before the call's deadline (Infinity when it has none). */
function timeLeftMs(call: { getDeadline(): grpc.Deadline }, clock: Clock): number {
  const d = call.getDeadline();
  const at = d instanceof Date ? d.getTime() : Number(d);
  return Number.isFinite(at) ? at - clock.now() : Infinity;
}

export function metadataRootService(opts: MetadataRootServiceOptions): MetadataRootService {
  const log = opts.logger;
  const handlerOpts = { logger: log };
  const streams = new Set<() => void>();

  const need = (): RootNodeHandle => {
    const n = opts.node();
    if (!n) throw new UnavailableError('meta-root replica is starting');
    return n;
  };
  const view = (peer: RootPeer) => replicaView(peer, opts.leaderAddrOf);
  const notLeader = (peer: RootPeer): NotLeaderError => {
    const leaderId = peer.group.status().leaderId;
    const leaderAddr = leaderId ? opts.leaderAddrOf(leaderId) : '';
    const who = leaderId ? `leader is node ${leaderId} at ${leaderAddr}` : 'no leader known';
    return new NotLeaderError(`not leader: meta-root node ${peer.nodeId} is not the leader (${who})`, { leaderId, leaderAddr });
  };
  /** Re-labels a raft NotLeaderError with the leader's client address. */
  const mapRaftError = (peer: RootPeer, err: unknown): unknown => (err instanceof NotLeaderError ? notLeader(peer) : err);

  async function write(call: grpc.ServerUnaryCall<unknown, unknown>, build: () => RootCommand): Promise<CommandResponseMsg> {
    const { peer } = need();
    if (!peer.group.isLeader) throw notLeader(peer);
    const state = peer.sm.state;
    let command: RootCommand;
    try {
      command = build();
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw refusal(err, unchangedOutcome(state, null));
      throw err;
    }
    // Quick refusals against the applied state, so a bad write costs no log entry. The applied outcome below
    // still decides: the state may move while the entry is in flight.
    const pre = evaluateCommand(state, command);
    if (!pre.accepted) throw refusal(pre.error, unchangedOutcome(state, nowOf(command)));
    const valid = validateBatch(state, pre.events);
    if (!valid.ok) throw refusal(valid.error, unchangedOutcome(state, nowOf(command)));
    let bytes: Uint8Array;
    try {
      bytes = encodeCommand(command);
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw refusal(err, unchangedOutcome(state, nowOf(command)));
      throw err;
    }
    const timeoutMs = Math.max(1, Math.min(opts.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS, timeLeftMs(call, opts.clock)));
    let applied;
    try {
      applied = await peer.group.propose(bytes, { timeoutMs });
    } catch (err) {
      throw mapRaftError(peer, err);
    }
    const outcome = applied.result;
    if (!outcome.accepted) throw refusal(outcome.error!, outcomeData(outcome));
    return outcomeToMsg(outcomeData(outcome), view(peer));
  }

  function appendCommand(req: { events_json: string }): RootCommand {
    const text = req.events_json ?? '';
    if (Buffer.byteLength(text, 'utf8') > MAX_APPEND_JSON_BYTES) {
      throw new InvalidArgumentError(`events_json is over the ${MAX_APPEND_JSON_BYTES}-byte limit`);
    }
    const events = parseJson(text, 'events_json');
    if (!Array.isArray(events)) throw new InvalidArgumentError('events_json must be a JSON array of events');
    if (events.length === 0) throw new InvalidArgumentError('append needs at least one event');
    if (events.length > MAX_APPEND_EVENTS) {
      throw new InvalidArgumentError(`batch of ${events.length} events exceeds ${MAX_APPEND_EVENTS}`, { count: events.length });
    }
    return commands.append(events);
  }

  async function waitTail(
    req: { after: CursorMsg | null; timeout_ms: number },
    call: grpc.ServerUnaryCall<unknown, unknown>,
  ): Promise<TailResponseMsg> {
    const { peer, hub } = need();
    const after = cursorFromMsg(req.after);
    const left = timeLeftMs(call, opts.clock);
    // Answer before the caller's deadline: keep a margin, and never use more than 80 % of the time left.
    const cap = Number.isFinite(left) ? Math.min(left - WAIT_TAIL_DEADLINE_MARGIN_MS, left * 0.8) : MAX_WAIT_TAIL_MS;
    const waitMs = Math.max(0, Math.min(req.timeout_ms ?? 0, MAX_WAIT_TAIL_MS, cap));
    const page = await hub.wait(after, waitMs, actorTrace(traceOf(call), 'grpc:WaitTail'));
    return tailToMsg(page, view(peer));
  }

  function tail(call: grpc.ServerWritableStream<{ after: CursorMsg | null }, TailResponseMsg>): void {
    let done = false;
    const end = () => {
      if (done) return;
      done = true;
      streams.delete(end);
      call.end();
    };
    streams.add(end);
    call.on('cancelled', () => {
      done = true;
      streams.delete(end);
    });
    void (async () => {
      let after = cursorFromMsg(call.request.after);
      const trace = actorTrace(traceOf(call), 'grpc:Tail');
      while (!done) {
        const node = opts.node();
        if (!node) return end();
        const page = await node.hub.wait(after, TAIL_STREAM_POLL_MS, trace);
        if (done) return;
        if (page.entries.length === 0 && !page.snapshot_required) continue;
        const ok = call.write(tailToMsg(page, view(node.peer)));
        if (page.snapshot_required) return end();
        after = page.cursor;
        if (!ok) await new Promise<void>((r) => { call.once('drain', r); call.once('cancelled', r); });
      }
    })().catch((err: unknown) => {
      log.warn({ err }, 'tail stream failed');
      end();
    });
  }

  const impl: grpc.UntypedServiceImplementation = {
    Status: unaryHandler(async () => {
      const { peer } = need();
      const st = peer.group.status();
      return {
        view: viewToMsg(view(peer)),
        last_index: st.lastIndex,
        snapshot_index: peer.group.snapshotIndexValue,
        voters: st.voters,
        summary_json: JSON.stringify(stateSummary(peer.sm.state)),
      };
    }, handlerOpts),
    Snapshot: unaryHandler(async (req: { linearizable: boolean }, call) => {
      const { peer } = need();
      if (req.linearizable) {
        const timeoutMs = Math.max(1, Math.min(DEFAULT_WRITE_TIMEOUT_MS, timeLeftMs(call, opts.clock)));
        try {
          await peer.group.readBarrier({ timeoutMs });
        } catch (err) {
          throw mapRaftError(peer, err);
        }
      }
      const state = peer.sm.state;
      const v = view(peer);
      return { view: viewToMsg(v), cursor: cursorToMsg(state.last_applied), state_json: JSON.stringify(state), follower_view: !v.is_leader };
    }, handlerOpts),
    Append: unaryHandler((req: { events_json: string }, call) => write(call, () => appendCommand(req)), handlerOpts),
    FenceAllocator: unaryHandler((req: FenceRequestMsg, call) => write(call, () => commands.fence(fenceFromMsg(req))), handlerOpts),
    ApplyTenure: unaryHandler((req: TenureRequestMsg, call) => write(call, () => commands.tenure(tenureFromMsg(req))), handlerOpts),
    ApplyHandover: unaryHandler((req: HandoverRequestMsg, call) => write(call, () => commands.handover(handoverFromMsg(req))), handlerOpts),
    WaitTail: unaryHandler(waitTail, handlerOpts),
    Tail: tail,
  };
  return {
    binding: { service: metadataRootProto().service(METADATA_ROOT_SERVICE), impl },
    endStreams: () => {
      for (const end of [...streams]) end();
    },
  };
}
