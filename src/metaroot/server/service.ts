// Owns the MetadataRoot gRPC front of one replica. Reads (Status, Snapshot, Tail, WaitTail) are served by any
// replica from its applied state and say which replica answered and how far it had applied. Writes are the
// leader's: a follower answers NotLeaderError naming the leader's id and client address; the leader refuses
// obvious failures before proposing, proposes, and answers with the APPLIED outcome, which on a refusal
// travels in the error's details as `root_outcome`. Mutations need the cluster token (checked by the server's
// guard, src/transport/grpc/auth.ts). The front holds no replica state: everything it answers comes from an
// ask to the raft peer actor (peer-actor.ts) or the tail actor (tail-actor.ts), inside the call's trace.
import type * as grpc from '@grpc/grpc-js';
import type { Clock } from '../../common/clock.js';
import { InvalidArgumentError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { unaryHandler, type ServiceBinding } from '../../transport/index.js';
import { commands, stateSummary, type Cursor, type RootCommand } from '../state/index.js';
import {
  DEFAULT_WRITE_TIMEOUT_MS,
  MAX_APPEND_EVENTS,
  MAX_WAIT_TAIL_MS,
  TAIL_ASK_SLACK_MS,
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
  outcomeToMsg,
  tailToMsg,
  tenureFromMsg,
  viewToMsg,
  type CommandResponseMsg,
  type TailResponseMsg,
} from '../wire.js';
import { peerUnavailable, refusal, unchangedOutcome, type PeerMsg, type PeerStatus, type ReadReply, type WriteReply } from './peer-actor.js';
import { eventsFromMsg } from '../event-wire.js';
import type { AppendRequest__Output } from '../../generated/proto/nokv/meta/v1/AppendRequest.js';
import type { FenceAllocatorRequest__Output } from '../../generated/proto/nokv/meta/v1/FenceAllocatorRequest.js';
import type { HandoverRequest__Output } from '../../generated/proto/nokv/meta/v1/HandoverRequest.js';
import type { TailRequest__Output } from '../../generated/proto/nokv/meta/v1/TailRequest.js';
import type { TenureRequest__Output } from '../../generated/proto/nokv/meta/v1/TenureRequest.js';
import type { WaitTailRequest__Output } from '../../generated/proto/nokv/meta/v1/WaitTailRequest.js';
import type { TailPage } from './tail-hub.js';
import { stateToMsg, summaryToMsg } from '../state-wire.js';

/** The replica's raft peer actor, as the front reaches it (RootPeerHandle in the role). */
export interface PeerAsker {
  ask<R>(msg: PeerMsg, timeoutMs: number): Promise<R>;
}

/** Reads of the replica's tail (the tail actor's adapter in the role). */
export interface TailReader {
  wait(after: Cursor, timeoutMs: number): Promise<TailPage>;
}

export interface MetadataRootServiceOptions {
  peer: PeerAsker;
  hub: TailReader;
  clock: Clock;
  logger: Logger;
  writeTimeoutMs?: number;
}

export interface MetadataRootService {
  binding: ServiceBinding;
  /** Ends open Tail streams so a server shutdown does not wait for them. */
  endStreams(): void;
}

/** How long a read ask may take: the actor answers from memory, so this only bounds a stuck mailbox. */
const READ_ASK_TIMEOUT_MS = 5_000;

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
  const { peer, hub } = opts;
  const read = (linearizable = false, timeoutMs = READ_ASK_TIMEOUT_MS) =>
    peer.ask<ReadReply>({ t: 'read', linearizable, timeoutMs }, timeoutMs + TAIL_ASK_SLACK_MS);

  async function write(call: grpc.ServerUnaryCall<unknown, unknown>, build: () => RootCommand): Promise<CommandResponseMsg> {
    let command: RootCommand;
    try {
      command = build();
    } catch (err) {
      if (!(err instanceof InvalidArgumentError)) throw err;
      const { state } = await read();
      throw refusal(err, unchangedOutcome(state, null));
    }
    const timeoutMs = Math.max(1, Math.min(opts.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS, timeLeftMs(call, opts.clock)));
    const r = await peer.ask<WriteReply>({ t: 'write', command, timeoutMs }, timeoutMs + TAIL_ASK_SLACK_MS);
    return outcomeToMsg(r.outcome, r.view);
  }

  function appendCommand(req: AppendRequest__Output): RootCommand {
    const batch = req.events ?? [];
    if (batch.length === 0) throw new InvalidArgumentError('append needs at least one event');
    if (batch.length > MAX_APPEND_EVENTS) {
      throw new InvalidArgumentError(`batch of ${batch.length} events exceeds ${MAX_APPEND_EVENTS}`, { count: batch.length });
    }
    return commands.append(eventsFromMsg(batch));
  }

  async function waitTail(
    req: WaitTailRequest__Output,
    call: grpc.ServerUnaryCall<unknown, unknown>,
  ): Promise<TailResponseMsg> {
    const after = cursorFromMsg(req.after);
    const left = timeLeftMs(call, opts.clock);
    // Answer before the caller's deadline: keep a margin, and never use more than 80 % of the time left.
    const cap = Number.isFinite(left) ? Math.min(left - WAIT_TAIL_DEADLINE_MARGIN_MS, left * 0.8) : MAX_WAIT_TAIL_MS;
    const waitMs = Math.max(0, Math.min(req.timeout_ms ?? 0, MAX_WAIT_TAIL_MS, cap));
    const page = await hub.wait(after, waitMs);
    return tailToMsg(page, (await read()).view);
  }

  function tail(call: grpc.ServerWritableStream<TailRequest__Output, TailResponseMsg>): void {
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
      while (!done) {
        const page = await hub.wait(after, TAIL_STREAM_POLL_MS);
        if (done) return;
        if (page.entries.length === 0 && !page.snapshot_required) continue;
        const ok = call.write(tailToMsg(page, (await read()).view));
        if (page.snapshot_required) return end();
        after = page.cursor;
        if (!ok) await new Promise<void>((r) => { call.once('drain', r); call.once('cancelled', r); });
      }
    })().catch((err: unknown) => {
      // A replica restarting its raft peer or tail ends its streams; the client resumes on another replica.
      if (!peerUnavailable(err)) log.warn({ err }, 'tail stream failed');
      end();
    });
  }

  const impl: grpc.UntypedServiceImplementation = {
    Status: unaryHandler(async () => {
      const st = await peer.ask<PeerStatus>({ t: 'status' }, READ_ASK_TIMEOUT_MS);
      const summary = stateSummary(st.state);
      return {
        view: viewToMsg(st.view),
        last_index: st.lastIndex,
        snapshot_index: st.snapshotIndex,
        voters: st.voters,
        summary_json: JSON.stringify(summary),
        summary: summaryToMsg(summary),
      };
    }, handlerOpts),
    Snapshot: unaryHandler(async (req: { linearizable: boolean }, call) => {
      const timeoutMs = Math.max(1, Math.min(DEFAULT_WRITE_TIMEOUT_MS, timeLeftMs(call, opts.clock)));
      const { view, state } = await read(Boolean(req.linearizable), timeoutMs);
      return { view: viewToMsg(view), cursor: cursorToMsg(state.last_applied), state_json: JSON.stringify(state), state: stateToMsg(state), follower_view: !view.is_leader };
    }, handlerOpts),
    Append: unaryHandler((req: AppendRequest__Output, call) => write(call, () => appendCommand(req)), handlerOpts),
    FenceAllocator: unaryHandler((req: FenceAllocatorRequest__Output, call) => write(call, () => commands.fence(fenceFromMsg(req))), handlerOpts),
    ApplyTenure: unaryHandler((req: TenureRequest__Output, call) => write(call, () => commands.tenure(tenureFromMsg(req))), handlerOpts),
    ApplyHandover: unaryHandler((req: HandoverRequest__Output, call) => write(call, () => commands.handover(handoverFromMsg(req))), handlerOpts),
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
