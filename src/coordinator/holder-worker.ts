// Owns what lets the lease holder actor (holder-actor.ts) run on a worker thread (`--workers` >= 1): its spawn
// export, built from plain data and refs, and the main-thread port actor it reaches the process's resources
// through. The meta-root clients and the gRPC client to peer coordinators stay on the main thread, shared with
// the gRPC front and the view (one set of channels per process, and the process's TLS identity lives there):
// each root call and each TakeOver of a planned handover is an ask to the port, and the holder's counters,
// which describe the process rather than one incarnation, are mirrored to the port as increments.
import type { ActorContext, ActorRef, Behaviour, TraceContext } from '../actors/index.js';
import { defaultPrng } from '../common/prng.js';
import { HolderActor, newHolderMetrics, type HolderMetrics } from './holder-actor.js';
import type { LeaseTiming } from './lease.js';
import type { RootPort } from './root-port.js';
import type { ViewMsg } from './root-view.js';

/** The port actor's name (main thread, one per holder incarnation on a worker). */
export const LEASE_PORT_ACTOR = 'lease-port';

/** The RootPort calls the holder makes, by name. */
type RootOp = 'snapshot' | 'append' | 'fenceAllocator' | 'applyTenure' | 'applyHandover' | 'waitTail';

export type LeasePortMsg =
  /** Ask → the call's result; fails with the root client's error. */
  | { t: 'root'; op: RootOp; arg: unknown }
  /** Ask → the peer's answer to TakeOver(legacyEra). */
  | { t: 'take-over'; to: string; legacyEra: number }
  | { t: 'count'; key: keyof HolderMetrics; by: number };

/**
 * How long the holder waits for the port's answer: the root clients have their own deadlines (the lease client
 * fails within the renew window), so this only bounds a port that stopped answering.
 */
const PORT_ASK_TIMEOUT_MS = 30_000;

export interface HolderWorkerArgs {
  selfId: string;
  timing: LeaseTiming;
  view: ActorRef<ViewMsg>;
  port: ActorRef<LeasePortMsg>;
  /** Coordinator id → address, for not-holder hints and handover targets. */
  peers: Array<[string, string]>;
  /** Whether planned handover is configured (the port then answers take-over). */
  handover: boolean;
}

/** Spawn export for a worker thread: the holder on that thread's clock, its outside calls through the port. */
export function holderOnWorker(args: HolderWorkerArgs): HolderActor {
  const peers = new Map(args.peers);
  const port = args.port;
  return new HolderActor({
    selfId: args.selfId,
    timing: args.timing,
    root: rootThroughPort(port),
    view: { current: args.view },
    prng: defaultPrng(),
    metrics: mirroredMetrics(port),
    addrOf: (id) => peers.get(id),
    ...(args.handover
      ? { takeOverPeer: (to: string, legacyEra: number, trace?: TraceContext) => port.ask<{ era: number; stage: string }>({ t: 'take-over', to, legacyEra }, { timeoutMs: PORT_ASK_TIMEOUT_MS, ...(trace ? { trace } : {}) }) }
      : {}),
  });
}

function rootThroughPort(port: ActorRef<LeasePortMsg>): RootPort {
  const call = <R>(op: RootOp, arg: unknown) => port.ask<R>({ t: 'root', op, arg }, { timeoutMs: PORT_ASK_TIMEOUT_MS });
  return {
    snapshot: (opts) => call('snapshot', opts ?? {}),
    append: (events) => call('append', events),
    fenceAllocator: (req) => call('fenceAllocator', req),
    applyTenure: (cmd) => call('applyTenure', cmd),
    applyHandover: (cmd) => call('applyHandover', cmd),
    waitTail: (req) => call('waitTail', req),
    close: () => undefined,
  };
}

/** Counters whose every increment is also told to the port (a tell: counting never waits). */
function mirroredMetrics(port: ActorRef<LeasePortMsg>): HolderMetrics {
  return new Proxy(newHolderMetrics(), {
    set(target, key, value) {
      const k = key as keyof HolderMetrics;
      const by = Number(value) - target[k];
      target[k] = value as number;
      if (by !== 0) {
        try {
          port.tell({ t: 'count', key: k, by });
        } catch {
          // The port is gone (the holder is stopping): the count is lost with it.
        }
      }
      return true;
    },
  });
}

/** The port's behaviour, on the main thread, over the process's lease root client and handover call. */
export function leasePortBehaviour(o: {
  root: RootPort;
  metrics: HolderMetrics;
  takeOverPeer?: (to: string, legacyEra: number, trace?: TraceContext) => Promise<{ era: number; stage: string }>;
}): Behaviour<LeasePortMsg> {
  return {
    receive(msg: LeasePortMsg, ctx: ActorContext<LeasePortMsg>) {
      if (msg.t === 'count') {
        if (msg.key in o.metrics) o.metrics[msg.key] += msg.by;
        return;
      }
      const r = ctx.deferReply();
      const run = msg.t === 'root' ? rootCall(o.root, msg.op, msg.arg) : o.takeOverPeer ? o.takeOverPeer(msg.to, msg.legacyEra, ctx.trace) : Promise.reject(new Error('handover is not configured'));
      run.then((v) => r.reply(v), (err: unknown) => r.fail(err));
    },
  };
}

function rootCall(root: RootPort, op: RootOp, arg: unknown): Promise<unknown> {
  switch (op) {
    case 'snapshot':
      return root.snapshot(arg as Parameters<RootPort['snapshot']>[0]);
    case 'append':
      return root.append(arg as Parameters<RootPort['append']>[0]);
    case 'fenceAllocator':
      return root.fenceAllocator(arg as Parameters<RootPort['fenceAllocator']>[0]);
    case 'applyTenure':
      return root.applyTenure(arg as Parameters<RootPort['applyTenure']>[0]);
    case 'applyHandover':
      return root.applyHandover(arg as Parameters<RootPort['applyHandover']>[0]);
    case 'waitTail':
      return root.waitTail(arg as Parameters<RootPort['waitTail']>[0]);
  }
}
