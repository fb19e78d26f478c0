// The store client's hand-written decoding of read responses (src/store/client/wire.ts) against the proto: for
// seeded random responses the objects equal what @grpc/proto-loader decodes from the same bytes; a response
// carrying a KeyError, and bytes the decoders do not take, come out of proto-loader itself.
import { expect } from 'chai';
import { SeededPrng, type Prng } from '../../src/common/prng.js';
import { STORE_KV_PROTO, STORE_KV_SERVICE } from '../../src/store/server/service.js';
import { fastReadDefinition } from '../../src/store/client/wire.js';
import { loadProto } from '../../src/transport/index.js';

function bytes(r: Prng): Buffer {
  const n = r.chance(0.2) ? 0 : r.chance(0.1) ? 128 + r.int(400) : r.int(60);
  return Buffer.from(Array.from({ length: n }, () => r.int(256)));
}
const kv = (r: Prng) => ({ key: bytes(r), value: bytes(r) });
const refPair = (r: Prng) => ({ key: bytes(r), value: bytes(r), ref_value: bytes(r), ref_found: r.chance(0.7), ref_elsewhere: r.chance(0.1) ? bytes(r) : Buffer.alloc(0) });

describe('store client read-response decoding (wire.ts) equals proto-loader', () => {
  const base = loadProto(STORE_KV_PROTO).service(STORE_KV_SERVICE);
  const fast = fastReadDefinition(base);
  const r = new SeededPrng(1205);
  const same = (method: string, msg: unknown) => {
    const buf = base[method]!.responseSerialize(msg);
    expect(fast[method]!.responseDeserialize(buf)).to.deep.equal(base[method]!.responseDeserialize(buf), method);
  };

  it('Get, BatchGet, Scan and ScanRefs success responses (500 random each, pages up to 600 pairs)', () => {
    for (let k = 0; k < 500; k++) {
      const n = k % 50 === 0 ? 600 : r.int(20);
      same('Get', r.chance(0.3) ? { not_found: true } : { value: bytes(r) });
      same('BatchGet', { pairs: Array.from({ length: n }, () => kv(r)) });
      same('Scan', { pairs: Array.from({ length: n }, () => kv(r)) });
      same('ScanRefs', { pairs: Array.from({ length: n }, () => refPair(r)), found: Array.from({ length: r.int(3) }, () => kv(r)) });
    }
  });

  it('responses with a KeyError are proto-loader\'s own objects', () => {
    const locked = { key: Buffer.from('k'), locked: { key: Buffer.from('k'), primary_lock: Buffer.from('p'), lock_version: '42', lock_ttl: '3000', lock_type: 'PUT', min_commit_ts: '0' } };
    const conflict = { conflict: { key: Buffer.from('c'), conflict_commit_ts: '7', start_ts: '5' } };
    same('Get', { error: locked });
    same('BatchGet', { pairs: [kv(r)], error: conflict });
    same('Scan', { error: { abort: 'no' } });
    same('ScanRefs', { pairs: [refPair(r)], error: locked });
    for (const m of ['Get', 'BatchGet', 'Scan', 'ScanRefs']) expect((fast[m]!.responseDeserialize(base[m]!.responseSerialize({ error: locked })) as any).error.locked.lock_version).to.equal('42');
  });

  it('bytes the decoders do not take fall back to proto-loader (which throws on truncation)', () => {
    const good = base.ScanRefs!.responseSerialize({ pairs: [refPair(r), refPair(r)] });
    const cut = good.subarray(0, good.length - 3);
    let fastErr: unknown;
    let baseErr: unknown;
    try {
      fast.ScanRefs!.responseDeserialize(cut);
    } catch (err) {
      fastErr = err;
    }
    try {
      base.ScanRefs!.responseDeserialize(cut);
    } catch (err) {
      baseErr = err;
    }
    expect(String(fastErr)).to.equal(String(baseErr));
    // An unknown field (as a newer store might add) is skipped.
    const extra = Buffer.concat([good, Buffer.from([0x78, 0x01])]);
    expect(fast.ScanRefs!.responseDeserialize(extra)).to.deep.equal(base.ScanRefs!.responseDeserialize(extra));
  });
});
