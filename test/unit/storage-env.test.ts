import { expect } from 'chai';
import { chmodSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { UnavailableError } from '../../src/common/errors.js';
import { liveResources } from '../../src/common/resources.js';
import { LAZY_WRITE_DELAY_MS, openStorage, type Storage } from '../../src/storage/index.js';
import { makeTempDir } from '../support/env.js';

describe('storage environment and group commit', () => {
  let dir: { path: string; remove: () => void };
  let storage: Storage | undefined;

  beforeEach(() => {
    dir = makeTempDir('nokv-env-');
    storage = openStorage({ path: `${dir.path}/with.dot` });
  });

  afterEach(async () => {
    try {
      await storage?.close();
    } finally {
      storage = undefined;
      dir.remove();
    }
  });

  it('registers the open environment as a resource until it is closed', async () => {
    const mine = () => liveResources().filter((r) => r.kind === 'lmdb' && r.description.includes(dir.path));
    expect(mine()).to.have.length(1);
    await storage!.close();
    await storage!.close(); // idempotent
    expect(mine()).to.have.length(0);
  });

  it('keeps the environment to its owner: folder 0700, files 0600, also one that was made more open', async () => {
    const path = `${dir.path}/loose`;
    mkdirSync(path, { mode: 0o755 });
    writeFileSync(`${path}/stray`, 'x', { mode: 0o644 });
    chmodSync(path, 0o755);
    const s = openStorage({ path });
    try {
      await s.write(() => s.db('app.state').put(Buffer.from('k'), Buffer.from('v')));
      expect(statSync(path).mode & 0o777).to.equal(0o700);
      const files = readdirSync(path);
      expect(files).to.include('data.mdb');
      for (const f of files) expect(statSync(`${path}/${f}`).mode & 0o777, f).to.equal(0o600);
    } finally {
      await s.close();
    }
  });

  it('resolves batches in submission order, one transaction per turn', async () => {
    const db = storage!.db('t');
    const order: string[] = [];
    const before = storage!.stats().batches;
    const turn = (tag: string) =>
      ['a', 'b'].map((k) => storage!.write(() => db.put(Buffer.from(tag + k), Buffer.from(tag))).then(() => order.push(tag + k)));
    const first = turn('1');
    await new Promise<void>((r) => setImmediate(r)); // next turn: a second batch while the first may be syncing
    const second = turn('2');
    await Promise.all([...first, ...second]);
    expect(order).to.deep.equal(['1a', '1b', '2a', '2b']);
    expect(storage!.stats().batches - before).to.equal(2);
    expect(db.get(Buffer.from('2b'))!.toString()).to.equal('2');
  });

  it('drain waits for every submitted write', async () => {
    const db = storage!.db('t');
    let done = 0;
    for (let i = 0; i < 5; i++) void storage!.write(() => db.put(Buffer.from([i + 1]), Buffer.from('v'))).then(() => done++);
    await storage!.drain();
    expect(done).to.equal(5);
  });

  it('rejects a write whose callback throws, commits the rest of its batch, and refuses later writes', async () => {
    const db = storage!.db('t');
    const ok = storage!.write(() => db.put(Buffer.from('k'), Buffer.from('v')));
    const bad = storage!.write(() => {
      throw new Error('bug in a write callback');
    });
    const results = await Promise.allSettled([ok, bad]);
    expect(results.map((r) => r.status)).to.deep.equal(['fulfilled', 'rejected']);
    expect(db.get(Buffer.from('k'))!.toString()).to.equal('v');
    let later: unknown;
    try {
      await storage!.write(() => db.put(Buffer.from('k2'), Buffer.from('v')));
    } catch (err) {
      later = err;
    }
    expect(later).to.be.instanceOf(UnavailableError);
    expect(db.get(Buffer.from('k2'))).to.equal(undefined);
  });

  it('commits writes given as data, mixed with a callback write, in submission order and one transaction per turn', async () => {
    const db = storage!.db('t');
    const before = storage!.stats().batches;
    const order: string[] = [];
    // A turn of data only (plain lmdb-js puts), then a turn mixing data and a callback that reads inside the
    // transaction what the data write of the same turn put before it.
    const a = storage!.writeOps([{ db, key: Buffer.from('a'), value: Buffer.from('1') }, { db, key: Buffer.from('b'), value: Buffer.from('1') }]).then(() => order.push('a'));
    await new Promise<void>((r) => setImmediate(r));
    let seen: string | undefined;
    const b = storage!.writeOps([{ db, key: Buffer.from('a'), value: Buffer.from('2') }, { db, key: Buffer.from('b'), value: null }]).then(() => order.push('b'));
    const c = storage!.write(() => {
      seen = db.get(Buffer.from('a'))?.toString();
      db.put(Buffer.from('c'), Buffer.from('3'));
    }).then(() => order.push('c'));
    await Promise.all([a, b, c]);
    expect(order).to.deep.equal(['a', 'b', 'c']);
    expect(seen).to.equal('2');
    expect(storage!.stats().batches - before).to.equal(2);
    expect(db.get(Buffer.from('a'))!.toString()).to.equal('2');
    expect(db.get(Buffer.from('b'))).to.equal(undefined);
    expect(db.get(Buffer.from('c'))!.toString()).to.equal('3');
  });

  it('a turn of data after a turn with a callback write lands after it: the later write of a key wins on disk', async () => {
    // lmdb-js runs queued asynchronous transaction callbacks after every queued single put unless strictAsyncOrder
    // is set; without it the callback turn's older value would overwrite the data turn's newer one, while both
    // writes had resolved (a raft log entry overwritten by a new leader's came back with its old term).
    const db = storage!.db('t');
    const writes: Array<Promise<void>> = [];
    for (let round = 0; round < 20; round++) {
      writes.push(storage!.write(() => db.put(Buffer.from('k'), Buffer.from(`callback ${round}`))));
      await new Promise<void>((r) => setImmediate(r));
      writes.push(storage!.writeOps([{ db, key: Buffer.from('k'), value: Buffer.from(`data ${round}`) }]));
      await new Promise<void>((r) => setImmediate(r));
    }
    await Promise.all(writes);
    expect(db.get(Buffer.from('k'))!.toString()).to.equal('data 19');
    await storage!.close();
    storage = openStorage({ path: `${dir.path}/with.dot` });
    expect(storage.db('t').get(Buffer.from('k'))!.toString()).to.equal('data 19');
  });

  it('a lazy write rides along with the next batch, or is flushed on its own after LAZY_WRITE_DELAY_MS', async () => {
    const db = storage!.db('t');
    const before = storage!.stats().batches;
    // Rides along: the lazy write and a later ordinary one share one transaction, the lazy one first.
    const order: string[] = [];
    const lazy = storage!.writeOps([{ db, key: Buffer.from('x'), value: Buffer.from('lazy') }], { lazy: true }).then(() => order.push('lazy'));
    await new Promise<void>((r) => setImmediate(r)); // a later turn: without the lazy flag this would be two batches
    const eager = storage!.writeOps([{ db, key: Buffer.from('y'), value: Buffer.from('eager') }]).then(() => order.push('eager'));
    await Promise.all([lazy, eager]);
    expect(order).to.deep.equal(['lazy', 'eager']);
    expect(storage!.stats().batches - before).to.equal(1);
    // Alone: it waits at least the delay (generous upper bound for a loaded machine), then commits by itself.
    const t0 = performance.now();
    await storage!.writeOps([{ db, key: Buffer.from('z'), value: Buffer.from('alone') }], { lazy: true });
    expect(performance.now() - t0).to.be.at.least(LAZY_WRITE_DELAY_MS - 2);
    expect(storage!.stats().batches - before).to.equal(2);
    expect(db.get(Buffer.from('z'))!.toString()).to.equal('alone');
  });

  it('close writes a lazy write that is still waiting, and it is there after a reopen', async () => {
    const db = storage!.db('t');
    let done = false;
    void storage!.writeOps([{ db, key: Buffer.from('k'), value: Buffer.from('v') }], { lazy: true }).then(() => (done = true));
    await storage!.close();
    expect(done).to.equal(true);
    storage = openStorage({ path: `${dir.path}/with.dot` });
    expect(storage.db('t').get(Buffer.from('k'))!.toString()).to.equal('v');
  });
});
