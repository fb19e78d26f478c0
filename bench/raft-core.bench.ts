// Benchmark of the pure raft core: committed proposals per second through three in-memory nodes (host loop
// persisting to MemoryLog, messages delivered synchronously), for several proposal batch sizes per Ready.
// Baseline: one proposal per Ready. Prints medians of a few runs and their ratio to the baseline.
import { SeededPrng } from '../src/common/prng.js';
import { EntryType, MemoryLog, RaftCore, type Message } from '../src/raft/index.js';
import { medianOfRuns } from './stats.js';

const PROPOSALS = 20000;
const RUNS = 5;
const PAYLOAD_BYTES = 128;
const BATCHES = [1, 8, 64];

interface Node {
  core: RaftCore;
  log: MemoryLog;
  applied: number;
}

function makeCluster(): Node[] {
  const conf = { voters: [1, 2, 3], learners: [] };
  const prng = new SeededPrng(1);
  return [1, 2, 3].map((id) => {
    const log = new MemoryLog(conf);
    const core = new RaftCore({ id, prng: prng.fork(), electionTimeoutTicks: 10, heartbeatTimeoutTicks: 1, maxInflightMsgs: 64 }, log);
    return { core, log, applied: 0 };
  });
}

function pump(nodes: Node[]): void {
  const byId = new Map(nodes.map((n) => [n.core.id, n]));
  let queue: Message[] = [];
  for (;;) {
    let moved = false;
    for (const n of nodes) {
      while (n.core.hasReady()) {
        moved = true;
        const rd = n.core.ready();
        n.log.append(rd.entries);
        if (rd.hardState) n.log.setHardState(rd.hardState);
        for (const m of rd.messages) queue.push(m);
        for (const e of rd.committedEntries) if (e.type === EntryType.Normal && e.data.length > 0) n.applied++;
        n.core.advance(rd);
      }
    }
    if (queue.length === 0 && !moved) return;
    const batch = queue;
    queue = [];
    for (const m of batch) byId.get(m.to)!.core.step(m);
  }
}

function runOnce(batch: number): number {
  const nodes = makeCluster();
  nodes[0].core.campaign();
  pump(nodes);
  const payload = new Uint8Array(PAYLOAD_BYTES);
  const started = process.hrtime.bigint();
  for (let done = 0; done < PROPOSALS; ) {
    for (let i = 0; i < batch && done < PROPOSALS; i++, done++) nodes[0].core.propose(payload);
    pump(nodes);
  }
  nodes.forEach((n) => n.core.tick());
  pump(nodes);
  const secs = Number(process.hrtime.bigint() - started) / 1e9;
  if (nodes.some((n) => n.applied !== PROPOSALS)) throw new Error('not every proposal was applied everywhere');
  return PROPOSALS / secs;
}

const rows: { batch: number; perSec: number }[] = [];
for (const batch of BATCHES) {
  rows.push({ batch, perSec: await medianOfRuns(RUNS, () => runOnce(batch)) });
}
const base = rows[0].perSec;
console.log(`raft core: ${PROPOSALS} proposals of ${PAYLOAD_BYTES} B through 3 in-memory nodes, median of ${RUNS}`);
console.log('proposals/ready  committed/s  vs 1/ready');
for (const r of rows) console.log(`${String(r.batch).padStart(15)}  ${r.perSec.toFixed(0).padStart(11)}  ${(r.perSec / base).toFixed(2).padStart(9)}x`);
