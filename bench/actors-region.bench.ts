// Cross-thread region messages per second: what the router pays to hand raft traffic to a region on a shard.
// One-way tells of region-shaped messages (`{t: 'raft', from, msgs: [an append with two 64-byte entries]}`)
// to an actor on a worker thread, drained by one ask at the end, against raw postMessage of the same object to
// a bare counting worker. The runtime batches the envelopes of one turn into one postMessage, so it can beat
// the raw one-message-per-postMessage baseline. Medians of five runs; well under 30 s.
import { Worker } from 'node:worker_threads';
import { ActorSystem } from '../src/actors/index.js';
import { silentLogger } from '../src/common/log.js';

const BEHAVIOURS = new URL('../src/actors/testing/behaviours.js', import.meta.url).href;
const RUNS = 5;
const N = 50_000;
/** Tells issued per event-loop turn (a transport delivery carries a batch, not one message). */
const PER_TURN = [1, 64];

const entry = (i: number) => ({ index: i, term: 3, type: 0, data: new Uint8Array(64).fill(i & 0xff) });
const raftMsg = (i: number) => ({ t: 'raft', from: 2, msgs: [{ type: 'app', from: 2, to: 1, term: 3, logTerm: 3, index: i, commit: i, entries: [entry(i + 1), entry(i + 2)] }] });

async function median(fn: () => Promise<number>): Promise<number> {
  await fn();
  const xs: number[] = [];
  for (let i = 0; i < RUNS; i++) xs.push(await fn());
  xs.sort((a, b) => a - b);
  return xs[Math.floor(xs.length / 2)]!;
}

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
    return await median(runOnce);
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
    return await median(runOnce);
  } finally {
    await system.shutdown();
  }
}

process.stdout.write(`cross-thread region messages (append with two 64-byte entries), ${N} one-way per run, median of ${RUNS}\n`);
for (const perTurn of PER_TURN) {
  const r = await raw(perTurn);
  const a = await actors(perTurn);
  process.stdout.write(
    `  ${String(perTurn).padStart(3)} per turn: raw postMessage ${r.toFixed(0).padStart(8)} msg/s   ActorRef.tell to a worker ${a.toFixed(0).padStart(8)} msg/s   (x${(a / r).toFixed(2)} raw)\n`,
  );
}
