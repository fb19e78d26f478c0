// Raft transport throughput between two processes on loopback: the receiver runs in a child process, the
// sender here. Small messages (heartbeat-sized) are queued 100 per event-loop turn, as 100 groups would
// on one tick. "batched" uses the default limits (one gRPC message per destination per turn); "unbatched"
// sets maxBatchItems 1, so every raft message is its own gRPC message — the per-message transport
// baseline. While the stream pushes back, turns keep queueing, so a batch can hold more than one turn's
// messages (msgs/batch shows it). Prints medians over several runs and the ratio. Never fails on timing.
import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SystemClock } from '../src/common/clock.js';
import { silentLogger } from '../src/common/log.js';
import { SeededPrng } from '../src/common/prng.js';
import { trackResource } from '../src/common/resources.js';
import { RaftTransport, type RaftTransportLimits } from '../src/transport/index.js';
import { median } from './stats.js';

const PER_TURN = 100;
const RUNS = 5;
/** Sender pauses while this many items wait in its queue, so the benchmark measures flow, not drops. */
const MAX_IN_QUEUE = 20_000;
const TIME_BUDGET_MS = 50_000;
const benchStart = Date.now();

const here = dirname(fileURLToPath(import.meta.url));
const receiverPath = join(here, '..', 'test', 'fixtures', 'transport-receiver.js');

interface Reply { type: string; port?: number; items?: number; batches?: number }

function nextMessage(child: ChildProcess, type: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: Reply) => {
      if (m.type !== type) return;
      child.off('message', onMsg);
      child.off('exit', onExit);
      resolve(m);
    };
    const onExit = (code: number | null) => reject(new Error(`receiver exited (${code}) before ${type}`));
    child.on('message', onMsg);
    child.once('exit', onExit);
  });
}

const turn = () => new Promise<void>((r) => setImmediate(r));

async function runOnce(child: ChildProcess, port: number, total: number, limits: Partial<RaftTransportLimits>) {
  const sender = new RaftTransport({
    nodeId: 1,
    peers: new Map([[2, `127.0.0.1:${port}`]]),
    onMessages: () => {},
    clock: new SystemClock(),
    prng: new SeededPrng(1),
    logger: silentLogger(),
    limits: { maxQueueItems: MAX_IN_QUEUE * 2, ...limits },
  });
  try {
    // Warm the stream so dialing is not part of the measurement.
    child.send({ type: 'expect', total: 1 });
    const warm = nextMessage(child, 'done');
    sender.send(2, 0, { type: 'heartbeat', term: 1, commit: 0 });
    await warm;

    child.send({ type: 'expect', total });
    const done = nextMessage(child, 'done');
    const started = process.hrtime.bigint();
    for (let sent = 0; sent < total; ) {
      while ((sender.stats().peers['2']?.queued ?? 0) > MAX_IN_QUEUE) await turn();
      for (let i = 0; i < PER_TURN && sent < total; i++, sent++) {
        sender.send(2, i, { type: 'heartbeat', term: 7, commit: sent, from: 1, to: 2 });
      }
      await turn();
    }
    const reply = await done;
    const secs = Number(process.hrtime.bigint() - started) / 1e9;
    const dropped = sender.stats().peers['2'].dropped;
    return { msgsPerSec: total / secs, batchesPerSec: (reply.batches ?? 0) / secs, batches: reply.batches ?? 0, dropped };
  } finally {
    await sender.close();
  }
}

async function main(): Promise<void> {
  const child = fork(receiverPath, ['2'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const untrack = trackResource({ kind: 'process', description: `transport bench receiver pid ${child.pid}` });
  try {
    const { port } = await nextMessage(child, 'listening');
    const scenarios: { name: string; total: number; limits: Partial<RaftTransportLimits> }[] = [
      { name: 'unbatched (1 msg per gRPC message)', total: 50_000, limits: { maxBatchItems: 1 } },
      { name: `batched (${PER_TURN} msgs per turn)`, total: 500_000, limits: {} },
    ];
    const rows: { name: string; msgs: number; batches: number; perBatch: number; dropped: number }[] = [];
    for (const s of scenarios) {
      const results = [];
      for (let r = 0; r < RUNS && Date.now() - benchStart < TIME_BUDGET_MS; r++) results.push(await runOnce(child, port!, s.total, s.limits));
      rows.push({
        name: s.name,
        msgs: median(results.map((x) => x.msgsPerSec)),
        batches: median(results.map((x) => x.batchesPerSec)),
        perBatch: median(results.map((x) => s.total / x.batches)),
        dropped: results.reduce((a, x) => a + x.dropped, 0),
      });
    }
    const base = rows[0].msgs;
    console.log(`raft transport, 2 processes on loopback, median of ${RUNS} runs (node ${process.version})`);
    console.log(`${'scenario'.padEnd(38)} ${'msgs/s'.padStart(10)} ${'batches/s'.padStart(10)} ${'msgs/batch'.padStart(10)} ${'ratio'.padStart(7)} ${'dropped'.padStart(8)}`);
    for (const row of rows) {
      console.log(
        `${row.name.padEnd(38)} ${row.msgs.toFixed(0).padStart(10)} ${row.batches.toFixed(0).padStart(10)} ${row.perBatch.toFixed(1).padStart(10)} ${(row.msgs / base).toFixed(2).padStart(7)} ${String(row.dropped).padStart(8)}`,
      );
    }
  } finally {
    child.send({ type: 'stop' });
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => { child.kill('SIGKILL'); resolve(); }, 2_000);
      child.once('exit', () => { clearTimeout(t); resolve(); });
    });
    untrack();
  }
}

await main();
