// The raft transport's payload codec on its own (src/transport/raft/codec.ts, msgpack): encode and decode of
// the batches a store sends, in three shapes: 100 heartbeats (100 regions on one tick), 10 appends of 8
// entries of 256 bytes, and one append of 64 entries of 1 KiB. This is the baseline any other wire format for
// the raft items (for instance a proto message per item) is measured against in the same run before it may
// replace msgpack. Medians of several runs; never fails on timing.
import { EntryType } from '../src/raft/types.js';
import { decodeItems, encodeItems, type RaftItem } from '../src/transport/index.js';

const RUNS = 7;
const RUN_MS = 300;

function entry(index: number, bytes: number) {
  return { term: 5, index, type: EntryType.Normal, data: new Uint8Array(bytes).fill(index & 0xff) };
}

function append(group: number, n: number, bytes: number): RaftItem {
  return {
    group,
    msg: { type: 'app', from: 1, to: 2, term: 5, logTerm: 5, index: 1000, commit: 999, entries: Array.from({ length: n }, (_, i) => entry(1001 + i, bytes)), reject: false, rejectHint: 0 },
  };
}

const shapes: [string, RaftItem[]][] = [
  ['100 heartbeats', Array.from({ length: 100 }, (_, g) => ({ group: g + 1, msg: { type: 'heartbeat', from: 1, to: 2, term: 5, logTerm: 0, index: 0, commit: 999, entries: [], reject: false, rejectHint: 0 } }))],
  ['10 appends x 8 x 256 B', Array.from({ length: 10 }, (_, g) => append(g + 1, 8, 256))],
  ['1 append x 64 x 1 KiB', [append(1, 64, 1024)]],
];

function rate(fn: () => void): number {
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < RUN_MS) {
    fn();
    n++;
  }
  return n / ((performance.now() - t0) / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

process.stdout.write(`raft payload codec (msgpack), median of ${RUNS} runs of ${RUN_MS} ms, node ${process.version}\n`);
process.stdout.write(`${'batch'.padEnd(26)} ${'bytes'.padStart(8)} ${'encode/s'.padStart(10)} ${'decode/s'.padStart(10)} ${'enc MB/s'.padStart(9)} ${'dec MB/s'.padStart(9)}\n`);
for (const [name, items] of shapes) {
  const payload = encodeItems(items);
  const enc: number[] = [];
  const dec: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    enc.push(rate(() => encodeItems(items)));
    dec.push(rate(() => decodeItems(payload)));
  }
  const e = median(enc), d = median(dec);
  const mb = (ops: number) => ((ops * payload.length) / 1e6).toFixed(0);
  process.stdout.write(`${name.padEnd(26)} ${String(payload.length).padStart(8)} ${fmt(e).padStart(10)} ${fmt(d).padStart(10)} ${mb(e).padStart(9)} ${mb(d).padStart(9)}\n`);
}
