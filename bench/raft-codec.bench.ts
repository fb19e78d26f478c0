// The raft transport's payload codec on its own (src/transport/raft/codec.ts), in three batch shapes a store
// sends: 100 heartbeats (100 regions on one tick), 10 appends of 8 entries of 256 bytes, and one append of 64
// entries of 1 KiB. Three encodings of the same items, their runs interleaved so all see the same load:
//   - whole: the payload before group frames, one msgpack array of {group, msg} that the receiving main thread
//     decoded in full before routing (kept here, inline, as the baseline);
//   - framed (in use): one frame per group; the main thread only splits the frames (and copies each into its
//     own buffer for a worker shard), the region's thread decodes its frame;
//   - proto: the payload's schema (nokv.raft.v1.RaftItems) encoded with protobufjs, the codec grpc-js uses
//     for every other message, including the conversion to and from the raft core's plain objects.
// Reported per batch: encode, main-thread receive cost, and the decode where the group lives. Medians of
// several runs; never fails on timing; first checks that every encoding gives back the same fields.
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import protobuf from 'protobufjs';
import { EntryType } from '../src/raft/types.js';
import { decodeFrame, decodeItems, encodeItems, protoRoot, splitFrames, type RaftItem } from '../src/transport/index.js';
import { median } from './stats.js';

const RUNS = Number(process.env.NOKV_BENCH_RUNS ?? 7);
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

const us = (perSec: number) => (1e6 / perSec).toFixed(1);

// The payload before group frames (same msgpackr options as the transport's).
const whole = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });
const wholeEncode = (items: readonly RaftItem[]) => new Uint8Array(whole.pack(items));
const wholeDecode = (payload: Uint8Array) => {
  const v = whole.unpack(payload) as RaftItem[];
  if (!Array.isArray(v)) throw new Error('not an array');
  for (const it of v) if (!it || typeof it.group !== 'number') throw new Error('no group');
  return v;
};

// protobufjs turns snake_case fields into the camelCase the raft core uses (logTerm, rejectHint).
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => join(protoRoot(), target); // imports are relative to proto/
const RaftItems = root.loadSync('nokv/raft/v1/transport.proto').lookupType('nokv.raft.v1.RaftItems');
// defaults: a zero field must come back (the core reads index 0, reject false, an empty entries list).
const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, defaults: true };
const protoEncode = (items: readonly RaftItem[]) => RaftItems.encode({ items } as never).finish();
const protoDecode = (bytes: Uint8Array) => (RaftItems.toObject(RaftItems.decode(bytes), TO_OBJECT) as { items: RaftItem[] }).items;

interface Codec {
  name: string;
  encode: (items: readonly RaftItem[]) => Uint8Array;
  /** What the receiving main thread does with a payload before routing it. */
  main: (payload: Uint8Array) => unknown;
  /** What the group's own thread does (nothing when the main thread decoded everything). */
  shard?: (payload: Uint8Array) => () => void;
}

const codecs: Codec[] = [
  { name: 'whole', encode: wholeEncode, main: wholeDecode },
  {
    name: 'framed',
    encode: encodeItems,
    // Split, and copy each frame out of the payload as node.ts does for a worker shard.
    main: (p) => splitFrames(p).map((f) => new Uint8Array(f.bytes)),
    shard: (p) => {
      const frames = splitFrames(p).map((f) => new Uint8Array(f.bytes));
      return () => {
        for (const f of frames) decodeFrame(f);
      };
    },
  },
  { name: 'proto', encode: protoEncode, main: protoDecode },
];

process.stdout.write(`raft payload codec: whole-batch msgpack (before) vs group frames (in use) vs proto, median of ${RUNS} runs of ${RUN_MS} ms, node ${process.version}, load ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}\n`);
process.stdout.write(`${'batch'.padEnd(24)} ${'codec'.padEnd(7)} ${'bytes'.padStart(7)} ${'encode us'.padStart(10)} ${'main us'.padStart(8)} ${'split-only us'.padStart(13)} ${'shard us'.padStart(9)} ${'main/whole'.padStart(11)}\n`);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const core = (xs: unknown) =>
  JSON.stringify(
    (xs as RaftItem<Record<string, any>>[])
      .map(({ group, msg: m }) => [group, m.type, m.from, m.to, m.term, m.logTerm, m.index, m.commit, m.reject, m.rejectHint, (m.entries as { term: number; index: number; type: number; data: Uint8Array }[]).map((e) => [e.term, e.index, e.type, hex(e.data)])])
      .sort((a, b) => (a[0] as number) - (b[0] as number)),
  );
for (const [name, items] of shapes) {
  // Every encoding must carry the same thing (group frames reorder across groups only; these have one message per group).
  const want = core(wholeDecode(wholeEncode(items)));
  if (core(decodeItems(encodeItems(items))) !== want) throw new Error(`framed round trip of ${name} differs`);
  if (core(protoDecode(protoEncode(items))) !== want) throw new Error(`proto round trip of ${name} differs`);
  const runs = codecs.map(() => ({ enc: [] as number[], main: [] as number[], split: [] as number[], shard: [] as number[] }));
  const payloads = codecs.map((c) => c.encode(items));
  for (let r = 0; r < RUNS; r++) {
    codecs.forEach((c, i) => {
      const p = payloads[i]!;
      runs[i]!.enc.push(rate(() => c.encode(items)));
      runs[i]!.main.push(rate(() => c.main(p)));
      if (c.shard) {
        runs[i]!.split.push(rate(() => splitFrames(p)));
        const decodeAll = c.shard(p);
        runs[i]!.shard.push(rate(decodeAll));
      }
    });
  }
  const wholeMain = median(runs[0]!.main);
  codecs.forEach((c, i) => {
    const m = runs[i]!;
    const line = [
      (i === 0 ? name : '').padEnd(24),
      c.name.padEnd(7),
      String(payloads[i]!.length).padStart(7),
      us(median(m.enc)).padStart(10),
      us(median(m.main)).padStart(8),
      (m.split.length ? us(median(m.split)) : '').padStart(13),
      (m.shard.length ? us(median(m.shard)) : '').padStart(9),
      `${(median(m.main) / wholeMain).toFixed(2)}x`.padStart(11),
    ];
    process.stdout.write(`${line.join(' ')}\n`);
  });
}
process.stdout.write('main/whole: how many times cheaper the receiving main thread is than decoding the whole batch there.\n');
