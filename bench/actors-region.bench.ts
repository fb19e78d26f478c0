// Cross-thread region messages per second: what the router pays to hand raft traffic to a region on a shard.
// One-way tells of region-shaped messages to an actor on a worker thread, drained by one ask at the end,
// against raw postMessage of the same message to a bare counting worker, in two shapes of the same append (two
// 64-byte entries): `objects`, the decoded message (`{t: 'raft', from, msgs: [...]}`, what the router sent
// before batches were framed per group), and `frame`, the group's frame bytes as the router sends them now
// (`{t: 'raft', from, bytes}`, copied out of the received payload per message, the copy included in the
// timing). The runtime batches the envelopes of one turn into one postMessage, so it can beat the raw
// one-message-per-postMessage baseline. Medians of five runs; about a minute.
import { Worker } from 'node:worker_threads';
import { ActorSystem } from '../src/actors/index.js';
import { silentLogger } from '../src/common/log.js';
import { encodeItems, splitFrames } from '../src/transport/index.js';
import { medianOfRuns } from './stats.js';

const BEHAVIOURS = new URL('../src/actors/testing/behaviours.js', import.meta.url).href;
const RUNS = 5;
const N = 50_000;
/** Tells issued per event-loop turn (a transport delivery carries a batch, not one message). */
const PER_TURN = [1, 64];

const entry = (i: number) => ({ index: i, term: 3, type: 0, data: new Uint8Array(64).fill(i & 0xff) });
const append = (i: number) => ({ type: 'app', from: 2, to: 1, term: 3, logTerm: 3, index: i, commit: i, entries: [entry(i + 1), entry(i + 2)] });
/** A received payload of 64 groups' appends; message i takes frame i % 64 out of it, as the router does. */
const frames = splitFrames(encodeItems(Array.from({ length: 64 }, (_, g) => ({ group: g + 1, msg: append(g) }))));
const SHAPES: Record<string, (i: number) => unknown> = {
  objects: (i) => ({ t: 'raft', from: 2, msgs: [append(i)] }),
  frame: (i) => ({ t: 'raft', from: 2, bytes: new Uint8Array(frames[i % frames.length]!.bytes) }),
};
let raftMsg: (i: number) => unknown = SHAPES.objects!;

const COUNT_WORKER = `
const { parentPort } = require('node:worker_threads');
let n = 0;
parentPort.on('message', (m) => { if (m === 'get') parentPort.postMessage(n); else n++; });
`;

const yieldTurn = () => new Promise<void>((r) => setImmediate(r));

async function raw(perTurn: number): Promise<number> {
  const w = new Worker(COUNT_WORKER, { eval: true });
  try {
    const runOnce = async () => {
      const t0 = performance.now();
      for (let i = 0; i < N; i++) {
        w.postMessage(raftMsg(i));
        if ((i + 1) % perTurn === 0) await yieldTurn();
      }
      await new Promise<void>((resolve) => {
        w.once('message', () => resolve());
        w.postMessage('get');
      });
      return N / ((performance.now() - t0) / 1000);
    };
    return await medianOfRuns(RUNS, runOnce);
  } finally {
    await w.terminate();
  }
}

async function actors(perTurn: number): Promise<number> {
  const system = await ActorSystem.start({ role: 'bench', workers: 1, logger: silentLogger() });
  try {
    const counter = await system.spawn<any>({ name: 'region', module: BEHAVIOURS, export: 'Counter', thread: 1, mailboxLimit: N * 2 });
    const runOnce = async () => {
      const t0 = performance.now();
      for (let i = 0; i < N; i++) {
        counter.tell({ type: 'inc', by: 1, payload: raftMsg(i) });
        if ((i + 1) % perTurn === 0) await yieldTurn();
      }
      await counter.ask({ type: 'get' }, { timeoutMs: 60_000 });
      return N / ((performance.now() - t0) / 1000);
    };
    return await medianOfRuns(RUNS, runOnce);
  } finally {
    await system.shutdown();
  }
}

process.stdout.write(`cross-thread region messages (append with two 64-byte entries; frame: ${frames[0]!.bytes.length} bytes), ${N} one-way per run, median of ${RUNS}, load ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}\n`);
for (const perTurn of PER_TURN) {
  for (const [shape, make] of Object.entries(SHAPES)) {
    raftMsg = make;
    const r = await raw(perTurn);
    const a = await actors(perTurn);
    process.stdout.write(
      `  ${String(perTurn).padStart(3)} per turn, ${shape.padEnd(7)}: raw postMessage ${r.toFixed(0).padStart(8)} msg/s   ActorRef.tell to a worker ${a.toFixed(0).padStart(8)} msg/s (${(1e6 / a).toFixed(1)} us/msg)   (x${(a / r).toFixed(2)} raw)\n`,
    );
  }
}
