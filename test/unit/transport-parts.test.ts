// The raft transport's pure parts: the drop-oldest queue, reconnect backoff and the batch codec.
import { expect } from 'chai';
import { DataLossError } from '../../src/common/errors.js';
import { SeededPrng } from '../../src/common/prng.js';
import { backoffDelayMs } from '../../src/transport/raft/backoff.js';
import { decodeFrame, decodeItems, encodeBatches, encodeItems, splitFrames } from '../../src/transport/raft/codec.js';
import { resolveLimits } from '../../src/transport/raft/limits.js';
import { DropOldestQueue } from '../../src/transport/raft/queue.js';
import { numberToU64, parseAddr, u64ToNumber } from '../../src/transport/index.js';

describe('transport: drop-oldest queue', () => {
  it('keeps the newest items when full and reports each drop', () => {
    const q = new DropOldestQueue<number>(3);
    const drops = [1, 2, 3, 4, 5].map((i) => q.push(i));
    expect(drops).to.deep.equal([0, 0, 0, 1, 1]);
    expect(q.length).to.equal(3);
    expect(q.take(2)).to.deep.equal([3, 4]);
    q.push(6);
    q.push(7);
    expect(q.take(10)).to.deep.equal([5, 6, 7]);
    expect(q.length).to.equal(0);
  });

  it('clear reports how many items it discarded', () => {
    const q = new DropOldestQueue<string>(4);
    q.push('a');
    q.push('b');
    expect(q.clear()).to.equal(2);
    expect(q.take(1)).to.deep.equal([]);
  });
});

describe('transport: reconnect backoff', () => {
  const policy = { initialMs: 50, maxMs: 2000, multiplier: 2 };

  it('grows exponentially within [d/2, d] and stops at the cap', () => {
    const prng = new SeededPrng(1);
    for (let attempt = 0; attempt < 12; attempt++) {
      const d = Math.min(2000, 50 * 2 ** attempt);
      expect(backoffDelayMs(attempt, policy, prng)).to.be.within(d / 2, d);
    }
  });

  it('jitters from the injected prng, so a seed replays the schedule', () => {
    const a = new SeededPrng(9);
    const b = new SeededPrng(9);
    const sa = Array.from({ length: 8 }, (_, i) => backoffDelayMs(i, policy, a));
    const sb = Array.from({ length: 8 }, (_, i) => backoffDelayMs(i, policy, b));
    expect(sa).to.deep.equal(sb);
    expect(new Set(Array.from({ length: 8 }, () => backoffDelayMs(6, policy, a))).size).to.be.greaterThan(1);
  });
});

describe('transport: batch codec', () => {
  it('round-trips plain raft messages with binary fields', () => {
    const items = [
      { group: 1, msg: { type: 'app', term: 3, entries: [{ index: 5, data: new Uint8Array([1, 2, 3]) }] } },
      { group: 2, msg: { type: 'hb', commit: 9 } },
    ];
    const back = decodeItems(encodeItems(items));
    expect(back).to.have.length(2);
    const entry = (back[0].msg as { entries: { data: Uint8Array }[] }).entries[0];
    expect(entry.data).to.be.instanceOf(Uint8Array);
    expect([...entry.data]).to.deep.equal([1, 2, 3]);
    expect(back[1]).to.deep.equal(items[1]);
  });

  it('splits a batch above the byte limit and keeps item order', () => {
    const items = Array.from({ length: 40 }, (_, i) => ({ group: i, msg: { pad: new Uint8Array(100) } }));
    const payloads = encodeBatches(items, 1000);
    expect(payloads.length).to.be.greaterThan(4);
    for (const p of payloads) expect(p.length).to.be.at.most(1000);
    expect(payloads.flatMap((p) => decodeItems(p).map((it) => it.group))).to.deep.equal(items.map((it) => it.group));
  });

  it('refuses items without a group, and payloads whose framing or frames are broken', () => {
    expect(() => encodeItems([{ msg: 1 } as never])).to.throw(DataLossError);
    expect(() => decodeItems(new Uint8Array([0xc1]))).to.throw(DataLossError);
    const ok = encodeItems([{ group: 300, msg: { type: 'hb' } }]);
    expect(ok[0], 'a group above 127 takes two varint bytes').to.equal(0xac);
    expect(() => splitFrames(ok.subarray(0, 1)), 'truncated in the group').to.throw(DataLossError, /truncated/);
    expect(() => splitFrames(ok.subarray(0, ok.length - 1)), 'length past the end').to.throw(DataLossError, /claims/);
    expect(() => splitFrames(new Uint8Array(9).fill(0xff)), 'a varint longer than 8 bytes').to.throw(DataLossError, /longer/);
    expect(() => splitFrames(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0])), 'a group beyond 2^53').to.throw(DataLossError, /safe integer/);
    expect(splitFrames(new Uint8Array(0))).to.deep.equal([]);
    // Framing that parses but bytes that do not decode: only decodeFrame (where the group lives) finds out.
    const [notArray] = splitFrames(new Uint8Array([5, 1, 0x07]));
    expect(notArray!.group).to.equal(5);
    expect(() => decodeFrame(notArray!.bytes)).to.throw(DataLossError, /not an array/);
    const [garbage] = splitFrames(new Uint8Array([6, 2, 0xc1, 0xc1]));
    expect(() => decodeFrame(garbage!.bytes)).to.throw(DataLossError, /undecodable/);
  });

  it('frames a batch per group without decoding: one frame per group, a view into the payload, messages in queue order', () => {
    const items = [
      { group: 7, msg: { seq: 1 } },
      { group: 9, msg: { seq: 2 } },
      { group: 7, msg: { seq: 3 } },
    ];
    const payload = encodeItems(items);
    const frames = splitFrames(payload);
    expect(frames.map((f) => f.group)).to.deep.equal([7, 9]);
    expect(frames[0]!.bytes.buffer, 'no copy').to.equal(payload.buffer);
    expect(decodeFrame(frames[0]!.bytes)).to.deep.equal([{ seq: 1 }, { seq: 3 }]);
    expect(decodeFrame(frames[1]!.bytes)).to.deep.equal([{ seq: 2 }]);
  });

  it('splits one group whose frame is above the byte limit, and keeps an oversized single message whole', () => {
    const items = Array.from({ length: 30 }, (_, i) => ({ group: 4, msg: { i, pad: new Uint8Array(100) } }));
    const payloads = encodeBatches(items, 1000);
    expect(payloads.length).to.be.greaterThan(3);
    for (const p of payloads) expect(p.length).to.be.at.most(1000);
    expect(payloads.flatMap((p) => decodeItems(p).map((it) => (it.msg as { i: number }).i))).to.deep.equal(items.map((_, i) => i));
    const big = encodeBatches([{ group: 1, msg: { pad: new Uint8Array(5000) } }, { group: 2, msg: { small: 1 } }], 1000);
    expect(big).to.have.length(2);
    expect(big[0]!.length).to.be.greaterThan(5000);
  });
});

describe('transport: small helpers', () => {
  it('parses host:port with 127.0.0.1 for an empty host', () => {
    expect(parseAddr(':20170')).to.deep.equal({ host: '127.0.0.1', port: 20170 });
    expect(parseAddr('[::1]:5')).to.deep.equal({ host: '[::1]', port: 5 });
    expect(() => parseAddr('nohost')).to.throw();
  });

  it('converts 64-bit fields and refuses values a number cannot hold', () => {
    expect(u64ToNumber('9007199254740991')).to.equal(Number.MAX_SAFE_INTEGER);
    expect(numberToU64(42)).to.equal('42');
    expect(() => u64ToNumber('18446744073709551615')).to.throw();
  });

  it('rejects non-positive limits', () => {
    expect(() => resolveLimits({ maxQueueItems: 0 })).to.throw(/maxQueueItems/);
    expect(resolveLimits({ maxBatchItems: 8 }).maxBatchItems).to.equal(8);
  });
});
