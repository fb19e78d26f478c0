// FsMetaClient against real gRPC servers: two gateways over one in-memory KV (as two gateways over the same
// stores). Typed records and errors, paging, failover from a dead endpoint, the call budget, and a watch that
// survives its gateway stopping: it reconnects to the other one and resumes after the last event it delivered,
// so the events committed meanwhile arrive once and in order.
import { expect } from 'chai';
import { SystemClock } from '../../src/common/clock.js';
import { NokvError } from '../../src/common/errors.js';
import { FsMetaClient, type WatchEvent } from '../../src/client/index.js';
import { startGateway, type RunningGateway } from '../../src/gateway/gateway.js';
import { MemoryDuties } from '../../src/gateway/memory-duties.js';
import { MemoryKv } from '../../src/gateway/memory-kv.js';
import { freePorts } from '../support/env.js';

const M = 'default';

describe('FsMetaClient (typed client of the fsmeta gateway)', function () {
  this.timeout(30_000);
  let kv: MemoryKv;
  let duties: MemoryDuties;
  let a: RunningGateway | undefined;
  let b: RunningGateway;
  const clients: FsMetaClient[] = [];
  const client = (endpoints: string[], callBudgetMs?: number) => {
    const c = new FsMetaClient({ endpoints, ...(callBudgetMs ? { retry: { callBudgetMs } } : {}) });
    clients.push(c);
    return c;
  };

  before(async () => {
    kv = new MemoryKv();
    duties = new MemoryDuties(kv.tso);
    duties.registerMount(M, 1);
    const start = () => startGateway({ kv, source: kv, duties, clock: new SystemClock(), addr: '127.0.0.1:0' });
    a = await start();
    b = await start();
  });
  after(async () => {
    for (const c of clients) c.close();
    await a?.stop();
    await b?.stop();
  });

  it('creates, looks up and lists with typed records; a directory is read page by page at one version', async () => {
    const c = client([a!.addr]);
    const dir = await c.create(M, 1, 'docs', { type: 'directory', mode: 0o755 });
    expect(dir.inode.type).to.equal('directory');
    expect(typeof dir.inode.inode).to.equal('bigint');
    for (const n of ['e', 'a', 'd', 'b', 'c']) await c.create(M, dir.inode.inode, n, { type: 'file', mode: 0o644, size: 3n });
    const names: string[] = [];
    for await (const e of c.list(M, dir.inode.inode, 2)) names.push(e.dentry.name.toString('utf8'));
    expect(names).to.deep.equal(['a', 'b', 'c', 'd', 'e']);
    const d = await c.lookup(M, dir.inode.inode, 'c');
    expect((await c.getAttr(M, d.inode)).size).to.equal(3n);
    const raw = await c.create(M, dir.inode.inode, Buffer.from([0xff, 0x01]), { type: 'file', mode: 0o600 });
    expect(raw.dentry.name.equals(Buffer.from([0xff, 0x01]))).to.equal(true);
  });

  it('rejects with the typed error and its gRPC code', async () => {
    const c = client([a!.addr]);
    const err = await c.lookup(M, 1, 'missing').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(NokvError);
    expect((err as NokvError).code).to.equal('NOT_FOUND');
    const exists = await c.create(M, 1, 'docs', { type: 'directory', mode: 0o755 }).catch((e: unknown) => e);
    expect((exists as NokvError).code).to.equal('ALREADY_EXISTS');
  });

  it('fails over from a dead endpoint, and gives up within its budget when none answers', async () => {
    const [dead] = await freePorts(1);
    const c = client([`127.0.0.1:${dead}`, b.addr]);
    expect((await c.lookup(M, 1, 'docs')).type).to.equal('directory');
    const none = client([`127.0.0.1:${dead}`], 400);
    const t0 = Date.now();
    const err = await none.lookup(M, 1, 'docs').catch((e: unknown) => e);
    expect((err as NokvError).code).to.equal('UNAVAILABLE');
    expect(Date.now() - t0).to.be.below(5_000);
  });

  it('a watch resumes on the other gateway after its own stops: nothing lost, nothing twice', async () => {
    const writer = client([b.addr]);
    const w = await writer.create(M, 1, 'watched', { type: 'directory', mode: 0o755 });
    const c = client([a!.addr, b.addr]);
    let ready = 0;
    const events = c.watch({ mount: M, rootInode: w.inode.inode, onReady: () => ready++ });
    const got: WatchEvent[] = [];
    const within = async (p: Promise<IteratorResult<WatchEvent>>) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('no watch event within 5 s')), 5_000)));
      try {
        return (await Promise.race([p, late])).value as WatchEvent;
      } finally {
        clearTimeout(timer);
      }
    };
    const first = events.next();
    const deadline = Date.now() + 10_000;
    while (ready === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(ready).to.equal(1);
    await writer.create(M, w.inode.inode, 'f1', { type: 'file', mode: 0o644 });
    got.push(await within(first));
    // The gateway the watch is on goes away; two more entries commit while the watch is disconnected.
    await a!.stop();
    a = undefined;
    await writer.create(M, w.inode.inode, 'f2', { type: 'file', mode: 0o644 });
    await writer.create(M, w.inode.inode, 'f3', { type: 'file', mode: 0o644 });
    for (let i = 0; i < 2; i++) got.push(await within(events.next()));
    await writer.create(M, w.inode.inode, 'f4', { type: 'file', mode: 0o644 });
    got.push(await within(events.next()));
    await events.return(undefined);
    expect(got.map((e) => [e.kind, e.name.toString('utf8')])).to.deep.equal([['created', 'f1'], ['created', 'f2'], ['created', 'f3'], ['created', 'f4']]);
    expect(ready).to.equal(2);
    const indexes = got.map((e) => e.cursor.index);
    expect(new Set(indexes.map(String)).size).to.equal(4);
  });
});
