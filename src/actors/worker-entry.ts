// Entry point of an actor worker thread (run from the built dist/ tree). Hosts a ThreadRuntime, links to the
// owner over the port in workerData, reports every actor exit to the owner, and exposes WorkerControl over
// parentPort with comlink. Its clock is the one the owner chose at start (control.ts, WorkerClockSpec): the
// system clock in production, or virtual time the owner drives.
import { parentPort, workerData } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { ManualClock, SystemClock } from '../common/clock.js';
import { InvalidArgumentError, serializeError } from '../common/errors.js';
import { createLogger } from '../common/log.js';
import type { ExitReason } from '../supervisor/types.js';
import { loadBehaviour } from './behaviour.js';
import { createCodec, rebindRefs } from './codec.js';
import { nodeEndpoint, type ControlResult, type SpawnRequest, type WorkerBoot, type WorkerControl } from './control.js';
import { OWNER_THREAD } from './protocol.js';
import { ThreadRuntime } from './runtime.js';

const boot = workerData as WorkerBoot;
if (!parentPort) throw new Error('worker-entry must run inside a worker thread');

const logger = createLogger({
  role: boot.role,
  node: boot.node,
  level: boot.logLevel,
  destination: boot.forwardLogs ? process.stdout : undefined,
});

// Without a spec (an owner older than this entry) the thread keeps the system clock.
const driven = boot.clock?.kind === 'driven' ? new ManualClock(boot.clock.startMs) : undefined;

const runtime = new ThreadRuntime({
  thread: boot.thread,
  clock: driven ?? new SystemClock(),
  logger,
  codec: createCodec(boot.codec),
  idPrefix: boot.idPrefix,
});
runtime.connect(OWNER_THREAD, boot.port);

// Exits of actors a stopMany call is waiting for are also returned to it (the owner may terminate the thread
// before the signal batch leaves); the signal covers every other exit.
const awaited = new Map<number, ExitReason | undefined>();
runtime.exitObserver = (id, reason) => {
  if (awaited.has(id)) awaited.set(id, reason);
  runtime.sendSignal(OWNER_THREAD, { k: 'signal', sig: 'exit', actor: id, reason });
};

const control: WorkerControl = {
  ready: () => true,

  async spawn(req: SpawnRequest): Promise<ControlResult> {
    try {
      // Refs in the args (e.g. of an owner-thread actor the new one reports to) work like refs in messages.
      const behaviour = await loadBehaviour(req.module, req.export, rebindRefs(req.args, runtime));
      await runtime.startCell({ thread: boot.thread, id: req.id, name: req.name }, behaviour, req.mailboxLimit);
      return { ok: true };
    } catch (err) {
      return { error: serializeError(err) };
    }
  },

  async stopMany(ids, reason) {
    const out: { id: number; reason: ExitReason }[] = [];
    for (const id of ids) {
      if (!runtime.hosts(id)) continue;
      awaited.set(id, undefined);
      await runtime.stopCell(id, reason);
      out.push({ id, reason: awaited.get(id) ?? reason });
      awaited.delete(id);
    }
    runtime.flush();
    return out;
  },

  inspect: () => runtime.stats(),
  connect: (thread, port) => runtime.connect(thread, port),
  disconnect: (thread) => runtime.disconnect(thread),

  advanceClock(atMs) {
    if (!driven) return { error: serializeError(new InvalidArgumentError('this worker runs on the system clock')) };
    if (!Number.isFinite(atMs)) return { error: serializeError(new InvalidArgumentError(`not a time: ${atMs}`)) };
    driven.advanceTo(atMs);
    runtime.flush();
    return { ok: driven.nextAt() ?? null };
  },
};

Comlink.expose(control, nodeEndpoint(parentPort));
