// The gateway's hand-written encoding of its hot responses (src/gateway/server/pb.ts) against the proto: for
// seeded random records — edge values of every field (0, varint byte boundaries, 2^53-1, 2^64-1 timestamps,
// empty and long names and opaque attributes) — the bytes equal what @grpc/proto-loader writes for the wire
// objects of wire.ts, and proto-loader decodes them back to those objects.
import { expect } from 'chai';
import { SeededPrng, type Prng } from '../../src/common/prng.js';
import * as P from '../../src/gateway/server/pb.js';
import { fsmetaServiceDefinition } from '../../src/gateway/server/service.js';
import * as W from '../../src/gateway/server/wire.js';
import type { DentryRecord, DirEntryPlus, InodeRecord } from '../../src/gateway/types.js';
import { loadProto } from '../../src/transport/index.js';

const NUMS = [0, 1, 127, 128, 16_383, 16_384, 2 ** 21, 2 ** 28 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 35 + 3, 2 ** 49, Number.MAX_SAFE_INTEGER];
const U32 = [0, 1, 127, 128, 0o644, 0o755, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1];
const BIGS = [0n, 1n, 127n, 128n, 1_733_000_000_000_000_000n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n];

function pick<T>(r: Prng, xs: T[]): T {
  return xs[r.int(xs.length)]!;
}
function num(r: Prng): number {
  return r.chance(0.5) ? pick(r, NUMS) : r.int(2 ** 31);
}
function big(r: Prng): bigint {
  return r.chance(0.5) ? pick(r, BIGS) : BigInt(r.int(2 ** 31)) * BigInt(r.int(2 ** 31));
}
function bytes(r: Prng, max: number): Buffer {
  const n = r.chance(0.2) ? 0 : r.chance(0.1) ? 200 + r.int(max) : r.int(40);
  return Buffer.from(Array.from({ length: n }, () => r.int(256)));
}
function dentry(r: Prng): DentryRecord {
  return { parent: num(r), name: bytes(r, 300), inode: num(r), type: r.chance(0.5) ? 'FILE' : 'DIRECTORY' };
}
function inode(r: Prng): InodeRecord {
  return {
    inode: num(r), type: r.chance(0.5) ? 'FILE' : 'DIRECTORY', size: num(r), mode: pick(r, U32), linkCount: pick(r, U32),
    createdUnixNs: big(r), updatedUnixNs: big(r), opaqueAttrs: bytes(r, 5_000),
  };
}

describe('fsmeta hot response encoding (pb.ts) equals proto-loader', () => {
  const svc = loadProto(W.FSMETA_PROTO).service(W.FSMETA_SERVICE);
  const ref = (method: string, wire: unknown) => svc[method]!.responseSerialize(wire);
  const back = (method: string, bytes: Buffer) => svc[method]!.responseDeserialize(bytes);
  const r = new SeededPrng(20261205);

  it('Create, Lookup and GetAttr over 2,000 random records each', () => {
    for (let k = 0; k < 2_000; k++) {
      const d = dentry(r);
      const i = inode(r);
      const create = { dentry: W.dentryOut(d), inode: W.inodeOut(i) };
      expect(P.encodeCreateResponse({ dentry: d, inode: i }).equals(ref('Create', create))).to.equal(true, `Create ${k}`);
      expect(P.encodeLookupResponse(d).equals(ref('Lookup', { dentry: W.dentryOut(d) }))).to.equal(true, `Lookup ${k}`);
      expect(P.encodeGetAttrResponse(i).equals(ref('GetAttr', { inode: W.inodeOut(i) }))).to.equal(true, `GetAttr ${k}`);
      expect(back('Create', P.encodeCreateResponse({ dentry: d, inode: i }))).to.deep.equal(create);
    }
  });

  it('ReadDir and ReadDirPlus pages of 0 to 600 entries', () => {
    for (const n of [0, 1, 2, 17, 64, 512, 600]) {
      const entries: DirEntryPlus[] = Array.from({ length: n }, () => ({ dentry: dentry(r), inode: inode(r) }));
      const readVersion = big(r);
      const plusWire = { entries: entries.map((e) => ({ dentry: W.dentryOut(e.dentry), inode: W.inodeOut(e.inode) })), read_version: readVersion.toString() };
      const plus = P.encodeReadDirPlusResponse({ entries, readVersion });
      expect(plus.equals(ref('ReadDirPlus', plusWire))).to.equal(true, `ReadDirPlus ${n}`);
      expect(back('ReadDirPlus', plus)).to.deep.equal(plusWire);
      const dentries = entries.map((e) => e.dentry);
      const dirWire = { entries: dentries.map(W.dentryOut), read_version: readVersion.toString() };
      expect(P.encodeReadDirResponse({ entries: dentries, readVersion }).equals(ref('ReadDir', dirWire))).to.equal(true, `ReadDir ${n}`);
    }
  });

  it('the served definition swaps only the hot response writers', () => {
    const def = fsmetaServiceDefinition();
    expect(Object.keys(def).sort()).to.deep.equal(Object.keys(svc).sort());
    for (const [name, m] of Object.entries(def)) {
      const hot = ['Create', 'Lookup', 'GetAttr', 'ReadDir', 'ReadDirPlus'].includes(name);
      expect(m.responseSerialize === svc[name]!.responseSerialize).to.equal(!hot, name);
      expect(m.requestDeserialize).to.equal(svc[name]!.requestDeserialize);
      expect(m.path).to.equal(svc[name]!.path);
    }
  });
});
