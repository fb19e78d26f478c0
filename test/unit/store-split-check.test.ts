// The split check over a region's MVCC view: under both thresholds it reports keys and bytes and no split key;
// over the key threshold it splits at half of it, over the size threshold at half the bytes; it counts each
// user key once however many versions it has, counts a delete's key but not its payload, never proposes the
// region's own start key, and looks only inside the region.
import { expect } from 'chai';
import { memoryMvccStore } from '../../src/store/mvcc/families.js';
import { checkSplit } from '../../src/store/split/check.js';

function store(keys: string[], valueBytes = 10, versions = 1) {
  const m = memoryMvccStore();
  let ts = 10n;
  for (let v = 0; v < versions; v++) {
    for (const k of keys) {
      const key = Buffer.from(k);
      m.putData(key, ts, Buffer.alloc(valueBytes, 1));
      m.putWrite(key, ts + 1n, { kind: 'put', startTs: ts });
      ts += 2n;
    }
  }
  return m;
}

const keys = (n: number, prefix = 'k') => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`);
const B = (s: string) => Buffer.from(s);

describe('store split check', () => {
  it('under both thresholds: counts keys (once per key, whatever its versions) and bytes, no split key', () => {
    const m = store(keys(10), 10, 3);
    const r = checkSplit(m, B(''), B(''), { maxKeys: 100, maxBytes: 10_000 });
    expect(r).to.deep.equal({ keys: 10, bytes: 10 * (5 + 10) });
  });

  it('over the key threshold: the key at half of it', () => {
    const m = store(keys(30));
    const r = checkSplit(m, B(''), B(''), { maxKeys: 20, maxBytes: 1 << 30 });
    expect(r.splitKey?.toString()).to.equal('k0010'); // the 11th key: left [.., k0010) holds 10
    expect(r.keys).to.equal(21); // stopped once over the threshold
  });

  it('over the size threshold: the key at half the bytes', () => {
    const m = store(keys(10), 95); // 100 bytes per key
    const r = checkSplit(m, B(''), B(''), { maxKeys: 1_000, maxBytes: 500 });
    expect(r.splitKey?.toString()).to.equal('k0002'); // bytes pass 250 at the third key
  });

  it('a delete counts its key, not a payload; only keys inside the region count; the start key is never the split', () => {
    const m = store(keys(10, 'a'));
    const gone = B('a0003');
    m.putWrite(gone, 1_000n, { kind: 'delete', startTs: 999n });
    const r = checkSplit(m, B(''), B(''), { maxKeys: 100, maxBytes: 1 << 30 });
    expect(r.bytes).to.equal(10 * (5 + 10) - 10);
    const inside = store([...keys(5, 'a'), ...keys(5, 'b'), ...keys(5, 'c')]);
    expect(checkSplit(inside, B('b'), B('c'), { maxKeys: 100, maxBytes: 1 << 30 }).keys).to.equal(5);
    // Region starts exactly at a key: with a threshold of 2 the half point would be that key; the next one is used.
    const r2 = checkSplit(inside, B('b0000'), B('c'), { maxKeys: 2, maxBytes: 1 << 30 });
    expect(r2.splitKey?.toString()).to.equal('b0001');
  });
});
