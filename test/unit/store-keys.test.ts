// Proves the store's key encoding on seeded random keys: encodeKey / decodeKey round-trip (with bytes after the
// encoded key, as in a versioned key), the encoding preserves byte order and is prefix-free, and versionedKey is
// the encoded key followed by the inverted version (newer versions sort first).
import { expect } from 'chai';
import { SeededPrng } from '../../src/common/prng.js';
import { decodeDescTs, decodeKey, encodeDescTs, encodeKey, versionedKey } from '../../src/store/keys.js';

describe('store key encoding', () => {
  const prng = new SeededPrng(7);
  const key = () => Buffer.from(Array.from({ length: prng.int(41) }, () => (prng.int(3) === 0 ? prng.int(2) * 255 : prng.int(256))));
  const keys = Array.from({ length: 2_000 }, key);

  it('round-trips every key, also with bytes after it', () => {
    for (const k of keys) {
      const enc = encodeKey(k);
      expect(enc.length % 9).to.equal(0);
      const d = decodeKey(Buffer.concat([enc, Buffer.from([1, 2, 3])]));
      expect(d.key.equals(k), k.toString('hex')).to.equal(true);
      expect(d.used).to.equal(enc.length);
    }
  });

  it('keeps byte order and is prefix-free', () => {
    for (let i = 1; i < keys.length; i++) {
      const a = keys[i - 1]!;
      const b = keys[i]!;
      const ea = encodeKey(a);
      const eb = encodeKey(b);
      expect(Math.sign(Buffer.compare(ea, eb))).to.equal(Math.sign(Buffer.compare(a, b)));
      if (!a.equals(b)) expect(ea.equals(eb.subarray(0, ea.length)) || eb.equals(ea.subarray(0, eb.length))).to.equal(false);
    }
  });

  it('builds a versioned key as the encoded key and the inverted version', () => {
    for (const k of keys.slice(0, 200)) {
      const ts = BigInt(prng.int(2 ** 30)) << 18n;
      const v = versionedKey(k, ts);
      expect(v.equals(Buffer.concat([encodeKey(k), encodeDescTs(ts)]))).to.equal(true);
      expect(decodeDescTs(v, v.length - 8)).to.equal(ts);
      expect(Buffer.compare(versionedKey(k, ts + 1n), v)).to.equal(-1);
    }
  });

  it('refuses a truncated or corrupt encoding', () => {
    expect(() => decodeKey(encodeKey(Buffer.from('abcdefghij')).subarray(0, 12))).to.throw(RangeError);
    const bad = encodeKey(Buffer.from('abc'));
    bad[8] = 0x10;
    expect(() => decodeKey(bad)).to.throw(RangeError);
  });
});
