import { expect } from 'chai';
import { DataLossError, FailedPreconditionError, InvalidArgumentError } from '../../src/common/errors.js';
import { msgpackCodec, openKvTable, openStorage, prefixEnd, stringCodec, type Storage } from '../../src/storage/index.js';
import { makeTempDir } from '../support/env.js';

describe('storage kv table', () => {
  let dir: { path: string; remove: () => void };
  let storage: Storage | undefined;

  beforeEach(() => {
    dir = makeTempDir('nokv-kv-');
    storage = openStorage({ path: dir.path });
  });

  afterEach(async () => {
    try {
      await storage?.close();
    } finally {
      storage = undefined;
      dir.remove();
    }
  });

  it('puts, gets, deletes and survives reopen', async () => {
    const t = openKvTable(storage!, 'applied');
    await t.put('a', Buffer.from('1'));
    await t.put(Buffer.from([0, 1]), Buffer.from('2'));
    await t.delete('missing');
    expect(Buffer.from(t.get('a')!).toString()).to.equal('1');
    expect(t.has(Buffer.from([0, 1]))).to.equal(true);
    await t.delete('a');
    expect(t.get('a')).to.equal(undefined);
    await storage!.close();
    storage = openStorage({ path: dir.path });
    const again = openKvTable(storage, 'applied');
    expect(again.get('a')).to.equal(undefined);
    expect(Buffer.from(again.get(Buffer.from([0, 1]))!).toString()).to.equal('2');
  });

  it('keeps tables with different names apart', async () => {
    const a = openKvTable(storage!, 'a', stringCodec);
    const b = openKvTable(storage!, 'b', stringCodec);
    await Promise.all([a.put('k', 'in-a'), b.put('k', 'in-b')]);
    expect([a.get('k'), b.get('k')]).to.deep.equal(['in-a', 'in-b']);
  });

  it('scans ranges in byte order with start inclusive, end exclusive, prefix, limit and reverse', async () => {
    const t = openKvTable(storage!, 'scan', stringCodec);
    await t.write(['a', 'b', 'ba', 'bb', 'bz', 'c'].map((k) => ({ type: 'put' as const, key: k, value: k.toUpperCase() })));
    const keys = (r: { key: Buffer }[]) => r.map((e) => e.key.toString());
    expect(keys(t.range())).to.deep.equal(['a', 'b', 'ba', 'bb', 'bz', 'c']);
    expect(keys(t.range({ start: 'b', end: 'bz' }))).to.deep.equal(['b', 'ba', 'bb']);
    expect(keys(t.range({ prefix: 'b' }))).to.deep.equal(['b', 'ba', 'bb', 'bz']);
    expect(keys(t.range({ prefix: 'b', start: 'bb' }))).to.deep.equal(['bb', 'bz']);
    expect(keys(t.range({ start: 'b', end: 'bz', reverse: true }))).to.deep.equal(['bb', 'ba', 'b']);
    expect(keys(t.range({ prefix: 'b', reverse: true, limit: 2 }))).to.deep.equal(['bz', 'bb']);
    expect(t.range({ start: 'c', end: 'a' })).to.deep.equal([]);
    expect(t.range({ prefix: 'b', limit: 1 })[0]!.value).to.equal('B');
    expect(prefixEnd(Buffer.from([1, 0xff]))).to.deep.equal(Buffer.from([2]));
    expect(prefixEnd(Buffer.from([0xff, 0xff]))).to.equal(undefined);
  });

  it('stores structured values with the msgpack codec', async () => {
    const t = openKvTable(storage!, 'state', msgpackCodec<{ term: number; ids: number[] }>());
    await t.put('root', { term: 3, ids: [1, 2] });
    expect(t.get('root')).to.deep.equal({ term: 3, ids: [1, 2] });
  });

  it('commits writes to several tables issued in one turn in one transaction', async () => {
    const lock = openKvTable(storage!, 'lock', stringCodec);
    const data = openKvTable(storage!, 'data', stringCodec);
    const before = storage!.stats().batches;
    await Promise.all([lock.put('k', 'L'), data.put('k', 'D'), data.write([{ type: 'put', key: 'x', value: 'X' }, { type: 'delete', key: 'x' }])]);
    expect(storage!.stats().batches - before).to.equal(1);
    expect([lock.get('k'), data.get('k'), data.get('x')]).to.deep.equal(['L', 'D', undefined]);
  });

  it('reports a corrupt value as DataLossError naming the table and key', async () => {
    const t = openKvTable(storage!, 'victim', stringCodec);
    await t.put('key', 'value');
    const raw = storage!.db('kv.victim');
    const rec = Buffer.from(raw.get(Buffer.from('key'))!);
    rec[3] = rec[3]! ^ 0x04;
    raw.putSync(Buffer.from('key'), rec);
    expect(() => t.get('key')).to.throw(DataLossError, /victim/);
    expect(() => t.range()).to.throw(DataLossError);
  });

  it('rejects empty or oversized keys, bad table names, and use after close', async () => {
    const t = openKvTable(storage!, 'k');
    expect(() => t.put('', Buffer.from('x'))).to.throw(InvalidArgumentError);
    expect(() => t.put('x'.repeat(600), Buffer.from('x'))).to.throw(InvalidArgumentError);
    expect(() => openKvTable(storage!, 'Bad Name')).to.throw(InvalidArgumentError);
    expect(() => openStorage({ path: dir.path })).to.throw(FailedPreconditionError, /already open/);
    await storage!.close();
    expect(() => t.put('x', Buffer.from('x'))).to.throw(FailedPreconditionError);
  });
});
