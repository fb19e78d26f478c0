// Durable raft-log append throughput and persist() latency on LMDB, one-at-a-time versus group-committed,
// plus the two encoding decisions behind the record format (entry layout, CRC-32 speed). Every persist()
// here resolves only once its write is fsynced. Prints medians over several runs and ratios against the
// one-at-a-time baseline measured in the same run. Never fails on timing.
import { join } from 'node:path';
import { pack, unpack } from 'msgpackr';
import { open } from 'lmdb';
import { EntryType, type Entry } from '../src/raft/types.js';
import { openRaftLogStore, openStorage, type RaftLogStore, type Storage } from '../src/storage/index.js';
import { crc32 } from '../src/common/crc32.js';
import { RecordKind, checkRecord, decodeEntryPayload, encodeEntry, logKey, recordPayload } from '../src/storage/codec.js';
import { makeTempDir } from '../test/support/env.js';
import { median, percentile } from './stats.js';

const RUNS = 5;
const RUN_MS = 700;
const DATA_BYTES = 128;
const FANOUT = 64;
const TIME_BUDGET_MS = 55_000;
const benchStart = Date.now();

interface RunResult {
  appendsPerSec: number;
  latenciesMs: number[];
  fsyncsPerAppend: number;
}

const payload = Buffer.alloc(DATA_BYTES, 7);
function entry(index: number): Entry {
  return { index, term: 1, type: EntryType.Normal, data: payload };
}

/** One "turn" issues some persists and waits for all; returns how many entries it appended. */
type Turn = (store: RaftLogStore, next: Map<number, number>, lat: number[]) => Promise<number>;

async function timed(store: RaftLogStore, g: number, next: Map<number, number>, count: number, lat: number[]): Promise<void> {
  const from = next.get(g) ?? 1;
  const entries = Array.from({ length: count }, (_, k) => entry(from + k));
  next.set(g, from + count);
  const t0 = performance.now();
  await store.persist(g, { entries, hardState: { term: 1, vote: 1, commit: from + count - 1 } });
  lat.push(performance.now() - t0);
}

const scenarios: { name: string; turn: Turn }[] = [
  {
    name: '1 group x 1 entry, one at a time',
    turn: async (s, n, lat) => {
      await timed(s, 1, n, 1, lat);
      return 1;
    },
  },
  {
    name: `${FANOUT} groups x 1 entry per turn`,
    turn: async (s, n, lat) => {
      await Promise.all(Array.from({ length: FANOUT }, (_, g) => timed(s, g + 1, n, 1, lat)));
      return FANOUT;
    },
  },
  {
    name: `1 group x ${FANOUT} entries per persist`,
    turn: async (s, n, lat) => {
      await timed(s, 1, n, FANOUT, lat);
      return FANOUT;
    },
  },
];

async function runScenario(dir: string, turn: Turn): Promise<RunResult> {
  const storage: Storage = openStorage({ path: dir });
  try {
    const store = openRaftLogStore(storage);
    const next = new Map<number, number>();
    const lat: number[] = [];
    for (let i = 0; i < 20; i++) await turn(store, next, []); // warm up
    const batches0 = storage.stats().batches;
    let appends = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < RUN_MS) appends += await turn(store, next, lat);
    const secs = (performance.now() - t0) / 1000;
    return { appendsPerSec: appends / secs, latenciesMs: lat, fsyncsPerAppend: (storage.stats().batches - batches0) / appends };
  } finally {
    await storage.close();
  }
}

/** Raw lmdb-js: one put + await flushed at a time, no checksums or store logic — the floor of our stack. */
async function rawLmdbRun(dir: string): Promise<RunResult> {
  const env = open({ path: dir, noSubdir: false, maxDbs: 4 });
  const db = env.openDB('raw', { encoding: 'binary', keyEncoding: 'binary' });
  try {
    const lat: number[] = [];
    let i = 1;
    const t0 = performance.now();
    while (performance.now() - t0 < RUN_MS) {
      const s = performance.now();
      db.put(logKey(1, i++), payload);
      await db.flushed;
      lat.push(performance.now() - s);
    }
    return { appendsPerSec: lat.length / ((performance.now() - t0) / 1000), latenciesMs: lat, fsyncsPerAppend: 1 };
  } finally {
    await env.close();
  }
}

function codecOpsPerSec(fn: () => void): number {
  const n = 200_000;
  for (let i = 0; i < 20_000; i++) fn();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn();
  return n / ((performance.now() - t0) / 1000);
}

function codecComparison(): string[] {
  const key = logKey(1, 42);
  const e = entry(42);
  const handRolled = codecOpsPerSec(() => {
    const rec = encodeEntry(key, e);
    if (checkRecord(key, rec, RecordKind.Entry) !== null) throw new Error('bad');
    decodeEntryPayload(42, recordPayload(rec));
  });
  // The alternative: msgpackr body plus the same trailing CRC.
  const msgpack = codecOpsPerSec(() => {
    const body = pack({ term: e.term, index: e.index, type: e.type, data: e.data });
    const rec = Buffer.allocUnsafe(body.length + 4);
    body.copy(rec);
    rec.writeUInt32BE(crc32(rec, 0, body.length), body.length);
    if (crc32(rec, 0, body.length) !== rec.readUInt32BE(body.length)) throw new Error('bad');
    unpack(rec.subarray(0, body.length));
  });
  const mb = Buffer.alloc(1 << 20, 3);
  for (let i = 0; i < 5; i++) crc32(mb);
  const crcTimes: number[] = [];
  for (let i = 0; i < 9; i++) {
    const t0 = performance.now();
    crc32(mb);
    crcTimes.push(performance.now() - t0);
  }
  return [
    `entry encode+check+decode (${DATA_BYTES} B data): hand-rolled ${(handRolled / 1e6).toFixed(2)} M/s, ` +
      `msgpackr ${(msgpack / 1e6).toFixed(2)} M/s (hand-rolled ${(handRolled / msgpack).toFixed(2)}x)`,
    `crc32 (slicing-by-8) over 1 MiB: ${(1 / (median(crcTimes) / 1000)).toFixed(0)} MiB/s (median of 9)`,
  ];
}

async function main(): Promise<void> {
  const tmp = makeTempDir('nokv-bench-storage-');
  try {
    const rows: { name: string; runs: RunResult[] }[] = [];
    const all = [
      ...scenarios.map((s) => ({ name: s.name, run: (d: string) => runScenario(d, s.turn) })),
      { name: 'raw lmdb put + flushed, one at a time', run: rawLmdbRun },
    ];
    for (const [si, s] of all.entries()) {
      const runs: RunResult[] = [];
      for (let r = 0; r < RUNS && Date.now() - benchStart < TIME_BUDGET_MS; r++) runs.push(await s.run(join(tmp.path, `s${si}-r${r}`)));
      rows.push({ name: s.name, runs });
    }
    const base = median(rows[0]!.runs.map((r) => r.appendsPerSec));
    console.log(`durable raft appends (${DATA_BYTES} B entries; median of ${RUNS} runs x ${RUN_MS} ms; latency = persist() call to resolve)`);
    console.log(
      `${'scenario'.padEnd(40)} ${'appends/s'.padStart(10)} ${'vs base'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'fsync/append'.padStart(13)}`,
    );
    for (const row of rows) {
      if (row.runs.length === 0) continue;
      const aps = median(row.runs.map((r) => r.appendsPerSec));
      const lat = row.runs.flatMap((r) => r.latenciesMs);
      console.log(
        `${row.name.padEnd(40)} ${aps.toFixed(0).padStart(10)} ${(aps / base).toFixed(2).padStart(7)}x ` +
          `${percentile(lat, 0.5).toFixed(3).padStart(8)} ${percentile(lat, 0.99).toFixed(3).padStart(8)} ${median(row.runs.map((r) => r.fsyncsPerAppend)).toFixed(3).padStart(13)}`,
      );
    }
    console.log('');
    for (const line of codecComparison()) console.log(line);
  } finally {
    tmp.remove();
  }
}

await main();
