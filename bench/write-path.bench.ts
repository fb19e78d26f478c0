// One store's disk work per single-key put, three ways alternating in one process (so all see the same machine
// load): the raft append of the entry (awaited to disk, as the raft host does before it acks or applies) and then
// the apply's MVCC write (three family records plus the region's applied record, not awaited, as the state
// machine does), one put after another with a gap standing for the network hops between two puts. The ways:
//   callback: both writes as lmdb-js transaction callbacks, the apply with its own transaction (the code before
//             Storage.writeOps);
//   data:     both as plain lmdb-js puts (Storage.writeOps), the apply still with its own transaction;
//   data+lazy: the same, the apply lazy (rides along with the next append) — what the store does now.
// An optional busy event loop (BUSY=1, default on) blocks the thread ~1 ms every ~3 ms, as a store's gRPC and
// raft transport work does: the callback way needs this thread to run its callback before lmdb-js can commit.
// Prints per way the append's p50/p90 (persist call to durable), LMDB transactions per put and this process's CPU
// time per put (user + system, lmdb-js's write thread included). Never fails on timing.
//
// Run: npm run build && node dist/bench/write-path.bench.js   (WP_ROUNDS=4 WP_ROUND_MS=1500 BUSY=0|1)
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { EntryType } from '../src/raft/types.js';
import { openRaftLogStore, openStorage, DB_NAMES, type Storage, type WriteOp } from '../src/storage/index.js';
import { makeTempDir, sleep } from '../test/support/env.js';
import { percentileOfSorted, sortedCopy } from './stats.js';

const ROUNDS = Number(process.env.WP_ROUNDS ?? 4);
const ROUND_MS = Number(process.env.WP_ROUND_MS ?? 1500);
const BUSY = process.env.BUSY !== '0';
const GAP_MS = 3;
const VALUE = Buffer.alloc(256, 7);

type Way = 'callback' | 'data' | 'data+lazy';
const WAYS: Way[] = ['callback', 'data', 'data+lazy'];

async function round(storage: Storage, way: Way, groupId: number, ms: number, lat: number[]): Promise<{ puts: number; txns: number; cpuUs: number }> {
  const cpu0 = process.cpuUsage();
  const log = openRaftLogStore(storage);
  // The same log store on a backend without writeOps: its persists run as transaction callbacks, as before.
  const cbLog = openRaftLogStore({ path: storage.path, get isClosed() { return storage.isClosed; }, db: (n: string) => storage.db(n), write: (a: () => void) => storage.write(a) });
  const fams = [DB_NAMES.mvccLock, DB_NAMES.mvccWrite, DB_NAMES.mvccData, DB_NAMES.appState].map((n) => storage.db(n));
  const txns0 = storage.stats().batches;
  let index = (way === 'callback' ? cbLog : log).groupLog(groupId).lastIndex();
  let puts = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    index++;
    const entry = { index, term: 1, type: EntryType.Normal, data: VALUE };
    const t0 = performance.now();
    await (way === 'callback' ? cbLog : log).persist(groupId, { entries: [entry], hardState: { term: 1, vote: 1, commit: index } });
    lat.push(performance.now() - t0);
    // The apply: lock delete, write record, data record, applied record.
    const k = Buffer.from(`k/${groupId}/${index % 1024}`);
    const apply: WriteOp[] = [
      { db: fams[0]!, key: k, value: null },
      { db: fams[1]!, key: Buffer.concat([k, Buffer.from([1])]), value: Buffer.alloc(24, 1) },
      { db: fams[2]!, key: Buffer.concat([k, Buffer.from([2])]), value: Buffer.from(VALUE) },
      { db: fams[3]!, key: Buffer.from(`rgn/${groupId}`), value: Buffer.from(String(index)) },
    ];
    if (way === 'callback') {
      void storage.write(() => {
        for (const op of apply) op.value ? op.db.put(op.key, op.value) : op.db.remove(op.key);
      });
    } else void storage.writeOps(apply, { lazy: way === 'data+lazy' });
    puts++;
    await sleep(GAP_MS);
  }
  await storage.drain();
  const cpu = process.cpuUsage(cpu0);
  return { puts, txns: storage.stats().batches - txns0, cpuUs: cpu.user + cpu.system };
}

const tmp = makeTempDir('nokv-write-path-');
const storage = openStorage({ path: join(tmp.path, 'env') });
let busy: ReturnType<typeof setInterval> | undefined;
try {
  if (BUSY) {
    busy = setInterval(() => {
      const until = performance.now() + 1;
      while (performance.now() < until) {
        /* spin: another handler's work on this thread */
      }
    }, 3);
  }
  const lat = new Map<Way, number[]>(WAYS.map((w) => [w, []]));
  const totals = new Map<Way, { puts: number; txns: number; cpuUs: number }>(WAYS.map((w) => [w, { puts: 0, txns: 0, cpuUs: 0 }]));
  const load0 = loadavg();
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, way] of (r % 2 === 0 ? WAYS : [...WAYS].reverse()).entries()) {
      const t = await round(storage, way, 1 + WAYS.indexOf(way), r === 0 && i === 0 ? 300 : 0, []); // warm-up
      void t;
      const res = await round(storage, way, 1 + WAYS.indexOf(way), ROUND_MS, lat.get(way)!);
      const tot = totals.get(way)!;
      tot.puts += res.puts;
      tot.txns += res.txns;
      tot.cpuUs += res.cpuUs;
    }
  }
  console.log(`one store's disk work per put, ${ROUNDS} alternating rounds of ${ROUND_MS} ms per way, ${GAP_MS} ms between puts, busy event loop ${BUSY ? 'on' : 'off'}`);
  console.log(`| way | puts | append p50 ms | append p90 ms | LMDB transactions per put | process CPU per put ms${BUSY ? ' (incl. the busy loop)' : ''} |`);
  console.log('|---|---|---|---|---|---|');
  for (const way of WAYS) {
    const s = sortedCopy(lat.get(way)!);
    const t = totals.get(way)!;
    console.log(`| ${way} | ${t.puts} | ${percentileOfSorted(s, 0.5).toFixed(2)} | ${percentileOfSorted(s, 0.9).toFixed(2)} | ${(t.txns / Math.max(1, t.puts)).toFixed(2)} | ${(t.cpuUs / 1000 / Math.max(1, t.puts)).toFixed(3)} |`);
  }
  console.log(`(load average before ${load0.map((l) => l.toFixed(1)).join(' ')}, after ${loadavg().map((l) => l.toFixed(1)).join(' ')})`);
} finally {
  if (busy) clearInterval(busy);
  await storage.close();
  tmp.remove();
}
