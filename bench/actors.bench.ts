// Benchmark of the actor runtime: ping-pong messages per second on one thread and across threads,
// sequential and pipelined (many asks in flight, which the per-turn batching makes cheap), against raw
// postMessage to a bare echo worker as the baseline; plus the envelope codec comparison (msgpackr vs
// structured clone) that picked the default per-batch codec choice. Prints medians of a few runs; bounded to well under 30 s.
import { Worker } from 'node:worker_threads';
import { silentLogger } from '../src/common/log.js';
import { ActorSystem, type ActorRef } from '../src/actors/index.js';
import { createCodec, type CodecName } from '../src/actors/codec.js';
import type { Batch, Envelope } from '../src/actors/protocol.js';
import type { Router } from '../src/actors/ref.js';
import { medianOfRuns } from './stats.js';

const BEHAVIOURS = new URL('../src/actors/testing/behaviours.js', import.meta.url).href;
const RUNS = 5;

interface Row {
  name: string;
  opsPerSec: number;
  baseline?: string;
}

const rows: Row[] = [];

/** Runs `ops` operations and returns operations per second. */
async function rate(ops: number, body: () => Promise<void>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await body();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return ops / s;
}

async function sequentialAsks(ref: ActorRef, n: number): Promise<number> {
  return rate(n, async () => {
    for (let i = 0; i < n; i++) await ref.ask({ n: i });
  });
}

/** Keeps `window` asks in flight until `total` have completed. */
async function pipelinedAsks(ref: ActorRef, total: number, window: number): Promise<number> {
  return rate(total, () =>
    new Promise<void>((resolve, reject) => {
      let sent = 0;
      let done = 0;
      const launch = () => {
        const n = sent++;
        ref.ask({ n }).then(() => {
          if (++done === total) resolve();
          else if (sent < total) launch();
        }, reject);
      };
      for (let i = 0; i < Math.min(window, total); i++) launch();
    }),
  );
}

// ---- raw postMessage baseline: one message per postMessage, a bare echo worker ----

const ECHO_WORKER = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (m) => parentPort.postMessage(m));
`;

async function rawBaseline(): Promise<{ seq: number; piped: Map<number, number> }> {
  const worker = new Worker(ECHO_WORKER, { eval: true });
  let waiter: (() => void) | undefined;
  let remaining = 0;
  worker.on('message', () => {
    if (--remaining === 0) waiter?.();
  });
  const roundTrips = (total: number, window: number) =>
    rate(total, () =>
      new Promise<void>((resolve) => {
        let sent = 0;
        let done = 0;
        remaining = Infinity;
        worker.removeAllListeners('message');
        worker.on('message', () => {
          if (++done === total) resolve();
          else if (sent < total) worker.postMessage({ n: sent++ });
        });
        for (let i = 0; i < Math.min(window, total); i++) worker.postMessage({ n: sent++ });
      }),
    );
  try {
    const seq = await medianOfRuns(RUNS, () => roundTrips(2000, 1));
    const piped = new Map<number, number>();
    for (const w of [64, 256]) piped.set(w, await medianOfRuns(RUNS, () => roundTrips(20_000, w)));
    return { seq, piped };
  } finally {
    await worker.terminate();
  }
}

// ---- envelope codec: encode + wire copy + decode of one batch ----

function codecRate(name: CodecName, batchSize: number): number {
  const codec = createCodec(name);
  const router: Router = { tell: () => {}, ask: async () => undefined };
  const envs: Envelope[] = Array.from({ length: batchSize }, (_, i) => ({
    k: 'request',
    to: 7,
    seq: i,
    from: 0,
    msg: { type: 'get', key: `key-${i}`, region: 3, version: 1_000_000 + i },
    trace: { traceId: 'abcd.0.1f', spanId: `abcd.0.${i.toString(36)}`, sender: 'gateway' },
  }));
  const batch: Batch = { from: 0, seq: 0, envs };
  const rounds = Math.max(20, Math.floor(60_000 / batchSize));
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) {
    const enc = codec.encode(batch);
    const wire = structuredClone(enc.data, { transfer: enc.transfer }); // what postMessage does
    codec.decode(wire, router);
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return (rounds * batchSize) / s;
}

async function main(): Promise<void> {
  const started = Date.now();

  for (const size of [1, 16, 256]) {
    const clone = await medianOfRuns(RUNS, async () => codecRate('clone', size));
    const msgpack = await medianOfRuns(RUNS, async () => codecRate('msgpack', size));
    rows.push({ name: `codec clone, batch of ${size} (envelopes/s)`, opsPerSec: clone });
    rows.push({ name: `codec msgpack, batch of ${size} (envelopes/s)`, opsPerSec: msgpack, baseline: `${(msgpack / clone).toFixed(2)}x clone` });
  }

  const raw = await rawBaseline();
  rows.push({ name: 'raw postMessage round trip, sequential', opsPerSec: raw.seq });
  for (const [w, v] of raw.piped) rows.push({ name: `raw postMessage round trip, ${w} in flight`, opsPerSec: v });

  const local = await ActorSystem.start({ role: 'bench', workers: 0, logger: silentLogger() });
  try {
    const ponger = await local.spawn({ name: 'ponger', module: BEHAVIOURS, export: 'Ponger' });
    rows.push({ name: 'actor ask, same thread, sequential', opsPerSec: await medianOfRuns(RUNS, () => sequentialAsks(ponger, 20_000)) });
    rows.push({ name: 'actor ask, same thread, 256 in flight', opsPerSec: await medianOfRuns(RUNS, () => pipelinedAsks(ponger, 50_000, 256)) });
  } finally {
    await local.shutdown();
  }

  // The first cross-thread system would otherwise pay for JIT warm-up of the runtime on this thread.
  for (const codec of ['warm-up', 'clone', 'msgpack', 'auto'] as const) {
    if (codec === 'warm-up') {
      const warm = await ActorSystem.start({ role: 'bench', workers: 1, logger: silentLogger(), logLevel: 'silent' });
      const p = await warm.spawn({ name: 'ponger', module: BEHAVIOURS, export: 'Ponger', thread: 1 });
      await sequentialAsks(p, 2000);
      await pipelinedAsks(p, 20_000, 64);
      await warm.shutdown();
      continue;
    }
    const system = await ActorSystem.start({ role: 'bench', workers: 1, codec, logger: silentLogger(), logLevel: 'silent' });
    try {
      const ponger = await system.spawn({ name: 'ponger', module: BEHAVIOURS, export: 'Ponger', thread: 1 });
      const seq = await medianOfRuns(RUNS, () => sequentialAsks(ponger, 2000));
      rows.push({ name: `actor ask, cross-thread (${codec}), sequential`, opsPerSec: seq, baseline: `${(seq / raw.seq).toFixed(2)}x raw` });
      for (const w of [64, 256]) {
        const v = await medianOfRuns(RUNS, () => pipelinedAsks(ponger, 20_000, w));
        rows.push({ name: `actor ask, cross-thread (${codec}), ${w} in flight`, opsPerSec: v, baseline: `${(v / raw.piped.get(w)!).toFixed(2)}x raw` });
      }
    } finally {
      await system.shutdown();
    }
  }

  const width = Math.max(...rows.map((r) => r.name.length));
  console.log(`actors benchmark (median of ${RUNS} runs after a warm-up)`);
  console.log(`${'case'.padEnd(width)}  ${'ops/s'.padStart(12)}  vs baseline`);
  for (const r of rows) console.log(`${r.name.padEnd(width)}  ${Math.round(r.opsPerSec).toLocaleString('en-US').padStart(12)}  ${r.baseline ?? ''}`);
  console.log(`total ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
