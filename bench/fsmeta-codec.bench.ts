// CPU cost of the gateway's protobuf work on its hot paths, in one run: encoding its responses through the
// proto-loader path (wire objects with decimal-string 64-bit fields built by wire.ts, then protobufjs's writer)
// against the hand-written encoder of src/gateway/server/pb.ts it serves with; and decoding the store's
// ScanRefs / BatchGet responses through proto-loader against src/store/client/wire.ts (and, for scale, what the
// store's proto-loader encoding of such a page costs). Prints CPU µs per message (process.cpuUsage, so other
// processes' load does not count) and the ratio.
//   node dist/bench/fsmeta-codec.bench.js
import * as P from '../src/gateway/server/pb.js';
import * as W from '../src/gateway/server/wire.js';
import type { DirEntryPlus } from '../src/gateway/types.js';
import { STORE_KV_PROTO, STORE_KV_SERVICE } from '../src/store/server/service.js';
import { fastReadDefinition } from '../src/store/client/wire.js';
import { loadProto } from '../src/transport/index.js';

const svc = loadProto(W.FSMETA_PROTO).service(W.FSMETA_SERVICE);
const now = 1_733_000_000_000_000_000n;

function page(n: number): DirEntryPlus[] {
  return Array.from({ length: n }, (_, k) => ({
    dentry: { parent: 1_000, name: Buffer.from(`hot-file-${String(k).padStart(8, '0')}`), inode: 5_000 + k, type: 'FILE' as const },
    inode: { inode: 5_000 + k, type: 'FILE' as const, size: 4_096 * k, mode: 0o644, linkCount: 1, createdUnixNs: now, updatedUnixNs: now, opaqueAttrs: Buffer.alloc(0) },
  }));
}

function time(label: string, iters: number, fn: () => Buffer): number {
  for (let k = 0; k < Math.min(iters, 200); k++) fn();
  // CPU time of this thread, not wall time: on a shared machine other processes' work does not count.
  const c0 = process.cpuUsage();
  let bytes = 0;
  for (let k = 0; k < iters; k++) bytes += fn().length;
  const c = process.cpuUsage(c0);
  const us = (c.user + c.system) / iters;
  console.log(`  ${label.padEnd(44)} ${us.toFixed(2).padStart(9)} µs  (${bytes / iters} bytes)`);
  return us;
}

const rows: Array<[string, number, () => Buffer, () => Buffer]> = [];
for (const n of [64, 512]) {
  const entries = page(n);
  rows.push([
    `ReadDirPlus ${n} entries`,
    n === 512 ? 300 : 2_000,
    () => svc.ReadDirPlus!.responseSerialize({ entries: entries.map((e) => ({ dentry: W.dentryOut(e.dentry), inode: W.inodeOut(e.inode) })), read_version: now.toString() }),
    () => P.encodeReadDirPlusResponse({ entries, readVersion: now }),
  ]);
  const dentries = entries.map((e) => e.dentry);
  rows.push([
    `ReadDir ${n} entries`,
    n === 512 ? 300 : 2_000,
    () => svc.ReadDir!.responseSerialize({ entries: dentries.map(W.dentryOut), read_version: now.toString() }),
    () => P.encodeReadDirResponse({ entries: dentries, readVersion: now }),
  ]);
}
const one = page(1)[0]!;
rows.push(['Create', 20_000, () => svc.Create!.responseSerialize({ dentry: W.dentryOut(one.dentry), inode: W.inodeOut(one.inode) }), () => P.encodeCreateResponse(one)]);
rows.push(['Lookup', 20_000, () => svc.Lookup!.responseSerialize({ dentry: W.dentryOut(one.dentry) }), () => P.encodeLookupResponse(one.dentry)]);
rows.push(['GetAttr', 20_000, () => svc.GetAttr!.responseSerialize({ inode: W.inodeOut(one.inode) }), () => P.encodeGetAttrResponse(one.inode)]);

const kvBase = loadProto(STORE_KV_PROTO).service(STORE_KV_SERVICE);
const kvFast = fastReadDefinition(kvBase);
for (const n of [64, 512]) {
  // A directory page as the store answers it: dentry key, dentry value, the inode's value.
  const entries = page(n);
  const res = {
    pairs: entries.map((e) => ({ key: Buffer.concat([Buffer.from('fsmeta/d/default/'), Buffer.alloc(8), e.dentry.name]), value: Buffer.alloc(40 + e.dentry.name.length), ref_found: true, ref_value: Buffer.alloc(70) })),
    found: [],
  };
  const msg = kvBase.ScanRefs!.responseSerialize(res);
  rows.push([`store ScanRefs ${n} pairs (decode, client)`, n === 512 ? 300 : 2_000, () => { kvBase.ScanRefs!.responseDeserialize(msg); return msg; }, () => { kvFast.ScanRefs!.responseDeserialize(msg); return msg; }]);
}
const batch = kvBase.BatchGet!.responseSerialize({ pairs: [0, 1, 2].map((k) => ({ key: Buffer.alloc(30, k), value: Buffer.alloc(60, k) })) });
rows.push(['store BatchGet 3 pairs (decode, client)', 20_000, () => { kvBase.BatchGet!.responseDeserialize(batch); return batch; }, () => { kvFast.BatchGet!.responseDeserialize(batch); return batch; }]);

for (const n of [64, 512]) {
  const res = {
    pairs: page(n).map((e) => ({ key: Buffer.concat([Buffer.from('fsmeta/d/default/'), Buffer.alloc(8), e.dentry.name]), value: Buffer.alloc(40 + e.dentry.name.length), ref_found: true, ref_value: Buffer.alloc(70) })),
    found: [],
  };
  time(`store ScanRefs ${n} pairs (encode, store, proto-loader)`, n === 512 ? 300 : 2_000, () => kvBase.ScanRefs!.responseSerialize(res));
}

console.log(`fsmeta response encoding, load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log('| message | proto-loader µs | hand-written µs | speed-up |\n|---|---|---|---|');
const table: string[] = [];
for (const [label, iters, before, after] of rows) {
  const b = time(`${label}, proto-loader`, iters, before);
  const a = time(`${label}, hand-written`, iters, after);
  if (!before().equals(after())) throw new Error(`${label}: encodings differ`);
  table.push(`| ${label} | ${b.toFixed(1)} | ${a.toFixed(1)} | ${(b / a).toFixed(1)}× |`);
}
console.log(table.join('\n'));
