// The raft transport's payload codec on its own (src/transport/raft/codec.ts, msgpack): encode and decode of
// the batches a store sends, in three shapes: 100 heartbeats (100 regions on one tick), 10 appends of 8
// entries of 256 bytes, and one append of 64 entries of 1 KiB. This is the baseline any other wire format for
// the raft items is measured against in the same run before it may replace msgpack: here the proto schema of
// the payload (nokv.raft.v1.RaftItems in proto/nokv/raft/v1/transport.proto) encoded with protobufjs, the codec
// grpc-js uses for every other message, including the conversion to and from the raft core's plain objects
// (64-bit fields back to numbers). Medians of several runs; never fails on timing.
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { EntryType } from '../src/raft/types.js';
import { decodeItems, encodeItems, protoRoot, type RaftItem } from '../src/transport/index.js';

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

// protobufjs turns snake_case fields into the camelCase the raft core uses (logTerm, rejectHint).
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => join(protoRoot(), target); // imports are relative to proto/
const RaftItems = root.loadSync('nokv/raft/v1/transport.proto').lookupType('nokv.raft.v1.RaftItems');
// defaults: a zero field must come back (the core reads index 0, reject false, an empty entries list).
const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, defaults: true };
const protoEncode = (items: readonly RaftItem[]) => RaftItems.encode({ items } as never).finish();
const protoDecode = (bytes: Uint8Array) => (RaftItems.toObject(RaftItems.decode(bytes), TO_OBJECT) as { items: RaftItem[] }).items;

process.stdout.write(`raft payload codec: msgpack (in use) vs the proto schema with protobufjs, median of ${RUNS} runs of ${RUN_MS} ms, node ${process.version}\n`);
process.stdout.write(`${'batch'.padEnd(26)} ${'codec'.padEnd(8)} ${'bytes'.padStart(8)} ${'encode/s'.padStart(10)} ${'decode/s'.padStart(10)} ${'enc MB/s'.padStart(9)} ${'dec MB/s'.padStart(9)} ${'proto/msgpack enc'.padStart(18)} ${'dec'.padStart(6)}\n`);
for (const [name, items] of shapes) {
  // Both codecs must carry the same thing: the proto round trip gives back every field the raft core reads.
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  const core = (xs: unknown) =>
    JSON.stringify((xs as RaftItem<Record<string, any>>[]).map(({ group, msg: m }) => [group, m.type, m.from, m.to, m.term, m.logTerm, m.index, m.commit,
      m.reject, m.rejectHint, (m.entries as { term: number; index: number; type: number; data: Uint8Array }[]).map((e) => [e.term, e.index, e.type, hex(e.data)])]));
  if (core(protoDecode(protoEncode(items))) !== core(decodeItems(encodeItems(items)))) throw new Error(`proto round trip of ${name} differs from msgpack's`);
  const codecs: [string, (i: readonly RaftItem[]) => Uint8Array, (b: Uint8Array) => unknown][] = [
    ['msgpack', encodeItems, decodeItems],
    ['proto', protoEncode, protoDecode],
  ];
  const results: { enc: number; dec: number }[] = [];
  for (const [codec, encode, decode] of codecs) {
    const payload = encode(items);
    const enc: number[] = [];
    const dec: number[] = [];
    // Interleave the two codecs' runs so both see the same machine load.
    for (let r = 0; r < RUNS; r++) {
      enc.push(rate(() => encode(items)));
      dec.push(rate(() => decode(payload)));
    }
    const e = median(enc), d = median(dec);
    results.push({ enc: e, dec: d });
    const mb = (ops: number) => ((ops * payload.length) / 1e6).toFixed(0);
    const ratio = codec === 'proto' ? `${(e / results[0]!.enc).toFixed(2)}x`.padStart(18) + ` ${(d / results[0]!.dec).toFixed(2)}x`.padStart(7) : '';
    process.stdout.write(`${name.padEnd(26)} ${codec.padEnd(8)} ${String(payload.length).padStart(8)} ${fmt(e).padStart(10)} ${fmt(d).padStart(10)} ${mb(e).padStart(9)} ${mb(d).padStart(9)} ${ratio}\n`);
  }
}
