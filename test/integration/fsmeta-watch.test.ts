// WatchSubtree over gRPC on loopback: the subscribe/ready/event/ack protocol, events that say what changed
// (created / updated / deleted with parent and name), recursive descent, window overflow closing the stream with
// RESOURCE_EXHAUSTED, resume cursors (replay, and OUT_OF_RANGE when too old), protocol errors, and a session
// actor that dies ending only its stream — with the session actors on the main thread and on a worker thread
// (NOKV_FSMETA_WORKERS; the killed-thread drill is in fsmeta-role.test.ts).
import * as grpc from '@grpc/grpc-js';
import { expect } from 'chai';
import { waitFor } from '../support/env.js';
import { dir, file, FSMETA_WORKERS, startTestGateway, type FsClient, type TestGateway } from '../fixtures/fsmeta-gateway.js';

const M = 'w';
const ROOT = '1';

interface Watcher {
  stream: grpc.ClientDuplexStream<any, any>;
  events: any[];
  ready: any[];
  status: Promise<string>;
  ack(cursor: any): void;
  close(): void;
}

function open(c: FsClient, subscribe: object): Watcher {
  const stream = c.watch();
  const events: any[] = [];
  const ready: any[] = [];
  const status = new Promise<string>((resolve) => {
    stream.on('data', (m: any) => (m.body === 'ready' ? ready.push(m.ready) : events.push(m.event)));
    stream.on('error', (err: grpc.ServiceError) => resolve(grpc.status[err.code]!));
    stream.on('end', () => resolve('END'));
  });
  stream.write({ subscribe });
  return {
    stream, events, ready, status,
    ack: (cursor) => stream.write({ ack: { cursor } }),
    close: () => stream.cancel(),
  };
}

for (const workers of FSMETA_WORKERS) describe(`fsmeta WatchSubtree (--workers ${workers})`, function () {
  this.timeout(20_000);
  let t: TestGateway;
  let c: FsClient;
  const watchers: Watcher[] = [];
  const watch = (sub: object) => {
    const w = open(c, sub);
    watchers.push(w);
    return w;
  };
  const create = async (parent: string, name: string, attrs: object = file()) => (await c.call('Create', { mount: M, parent, name, attrs })).inode.inode as string;
  const summary = (w: Watcher) => w.events.map((e) => `${e.kind.replace('WATCH_EVENT_KIND_', '')} ${e.parent}/${e.name}`);
  /** The session actors, wherever they run (with their thread), oldest first. */
  const sessions = async () => (await t.gw.actors.inspect()).flatMap((th) => th.actors.filter((a) => a.name === 'fsmeta-watch-session').map((a) => ({ ...a, thread: th.thread }))).sort((x, y) => x.id - y.id);

  before(async () => {
    t = await startTestGateway({ workers });
    c = t.client;
    t.duties.registerMount(M, 1);
  });
  afterEach(() => {
    for (const w of watchers.splice(0)) w.close();
  });
  after(async () => {
    await t?.stop();
  });

  it('delivers created, updated and deleted events with the entry name, after ready', async () => {
    const d = await create(ROOT, 'wd', dir());
    const w = watch({ mount: M, root_inode: d, back_pressure_window: 0 });
    await waitFor('ready', () => w.ready.length === 1);
    const f = await create(d, 'f1', file(1));
    await c.call('UpdateInode', { mount: M, parent: d, name: 'f1', inode: f, set_size: true, size: 2 });
    await c.call('Rename', { mount: M, from_parent: d, from_name: 'f1', to_parent: d, to_name: 'f2' });
    await c.call('Unlink', { mount: M, parent: d, name: 'f2' });
    await create(ROOT, 'elsewhere');
    await waitFor('4 events', () => w.events.length >= 5);
    expect(summary(w)).to.deep.equal([`CREATED ${d}/f1`, `UPDATED ${d}/f1`, `DELETED ${d}/f1`, `CREATED ${d}/f2`, `DELETED ${d}/f2`]);
    expect(Number(w.events[0].commit_version)).to.be.greaterThan(0);
  });

  it('descends recursively only when asked', async () => {
    const top = await create(ROOT, 'top', dir());
    const mid = await create(top, 'mid', dir());
    const deep = watch({ mount: M, root_inode: top, descend_recursively: true });
    const flat = watch({ mount: M, root_inode: top });
    await waitFor('ready', () => deep.ready.length === 1 && flat.ready.length === 1);
    const low = await create(mid, 'low', dir());
    await create(low, 'leaf');
    await create(top, 'direct');
    await waitFor('recursive events', () => deep.events.length >= 3);
    await waitFor('direct event', () => flat.events.length >= 1);
    expect(summary(deep)).to.deep.equal([`CREATED ${mid}/low`, `CREATED ${low}/leaf`, `CREATED ${top}/direct`]);
    expect(summary(flat)).to.deep.equal([`CREATED ${top}/direct`]);
  });

  it('closes the stream with RESOURCE_EXHAUSTED when the window fills, and stays open while acks keep up', async () => {
    const d = await create(ROOT, 'flood', dir());
    const slow = watch({ mount: M, root_inode: d, back_pressure_window: 2 });
    const fast = watch({ mount: M, root_inode: d, back_pressure_window: 2 });
    fast.stream.on('data', (m: any) => m.event && fast.ack(m.event.cursor));
    await waitFor('ready', () => slow.ready.length === 1 && fast.ready.length === 1);
    for (let i = 0; i < 5; i++) {
      await create(d, `f${i}`);
      await waitFor('fast event', () => fast.events.length === i + 1);
    }
    expect(await slow.status).to.equal('RESOURCE_EXHAUSTED');
    expect(slow.events).to.have.length(2);
    expect(fast.events).to.have.length(5);
    expect(t.gw.router.stats.overflows).to.be.greaterThan(0);
  });

  it('resumes after a cursor by replaying later events; a cursor older than the history is OUT_OF_RANGE', async () => {
    const d = await create(ROOT, 'resume', dir());
    const w = watch({ mount: M, root_inode: d });
    await waitFor('ready', () => w.ready.length === 1);
    await create(d, 'r1');
    await create(d, 'r2');
    await create(d, 'r3');
    await waitFor('events', () => w.events.length === 3);
    const again = watch({ mount: M, root_inode: d, resume_cursor: w.events[0].cursor });
    await waitFor('replay', () => again.events.length === 2);
    expect(again.ready[0].cursor).to.deep.equal(w.events[0].cursor);
    expect(summary(again)).to.deep.equal([`CREATED ${d}/r2`, `CREATED ${d}/r3`]);
    const stale = watch({ mount: M, root_inode: d, resume_cursor: { region_id: 1, term: 0, index: 0 } });
    expect(await stale.status).to.equal('OUT_OF_RANGE');
    const unknown = watch({ mount: M, root_inode: d, resume_cursor: { region_id: 99, term: 1, index: 1 } });
    expect(await unknown.status).to.equal('OUT_OF_RANGE');
  });

  it('refuses protocol violations and bad subscriptions', async () => {
    const noSub = c.watch();
    const st = new Promise<string>((r) => noSub.on('error', (e: grpc.ServiceError) => r(grpc.status[e.code]!)));
    noSub.on('data', () => undefined);
    noSub.write({ ack: { cursor: { region_id: 1, term: 1, index: 1 } } });
    expect(await st).to.equal('INVALID_ARGUMENT');
    expect(await watch({ mount: M }).status).to.equal('INVALID_ARGUMENT');
    expect(await watch({ mount: M, root_inode: ROOT, key_prefix: Buffer.from('x') }).status).to.equal('INVALID_ARGUMENT');
    expect(await watch({ mount: 'nope', root_inode: ROOT }).status).to.equal('NOT_FOUND');
    const w = watch({ mount: M, root_inode: ROOT });
    await waitFor('ready', () => w.ready.length === 1);
    w.stream.write({ subscribe: { mount: M, root_inode: ROOT } });
    expect(await w.status).to.equal('INVALID_ARGUMENT');
  });

  it('a client that floods its session with acks is refused RESOURCE_EXHAUSTED; the session sees none of the excess', async () => {
    const d = await create(ROOT, 'acks', dir());
    const w = watch({ mount: M, root_inode: d });
    await waitFor('ready', () => w.ready.length === 1);
    await create(d, 'a1');
    await waitFor('event', () => w.events.length === 1);
    // One ack per event it was sent, plus 64 more, is the most a client may send.
    for (let i = 0; i < 65; i++) w.ack(w.events[0].cursor);
    await new Promise((r) => setTimeout(r, 200));
    expect(await Promise.race([w.status, Promise.resolve('open')]), 'within the allowance').to.equal('open');
    for (let i = 0; i < 5_000; i++) w.ack(w.events[0].cursor);
    expect(await w.status).to.equal('RESOURCE_EXHAUSTED');
    // The gateway serves the next stream as before.
    const again = watch({ mount: M, root_inode: d });
    await waitFor('ready again', () => again.ready.length === 1);
  });

  it('watches raw keys under a key prefix', async () => {
    const d = await create(ROOT, 'raw', dir());
    const { dentryPrefix } = await import('../../src/gateway/keys.js');
    const w = watch({ key_prefix: dentryPrefix(M, Number(d)) });
    await waitFor('ready', () => w.ready.length === 1);
    await create(d, 'k1');
    await waitFor('event', () => w.events.length === 1);
    expect(summary(w)).to.deep.equal([`CREATED ${d}/k1`]);
  });

  it('each stream is a session actor that owns its subscription and window, and goes away with the stream', async () => {
    const d = await create(ROOT, 'sessions', dir());
    const a = watch({ mount: M, root_inode: d, back_pressure_window: 3 });
    const b = watch({ mount: M, root_inode: d });
    await waitFor('both ready', () => a.ready.length === 1 && b.ready.length === 1);
    await create(d, 's1');
    await waitFor('events', () => a.events.length === 1 && b.events.length === 1);
    const live = await sessions();
    expect(live.map((s) => s.thread)).to.deep.equal(workers === 0 ? [0, 0] : [1, 1]);
    expect(live.map((s) => s.state)).to.deep.equal([
      { state: 'live', outstanding: 1, window: 3 },
      { state: 'live', outstanding: 1, window: 256 },
    ]);
    expect(live.every((s) => s.processed >= 3 && s.mailbox === 0)).to.equal(true); // subscribe, opened, the event
    a.ack(a.events[0].cursor);
    await waitFor('ack taken', async () => ((await sessions())[0]?.state as any)?.outstanding === 0);
    b.close();
    await waitFor('the cancelled stream\'s actor stops', async () => (await sessions()).length === 1);
    expect(t.gw.router.stats.subscriptions).to.equal(1);
    a.close();
    await waitFor('no session left', async () => (await sessions()).length === 0 && t.gw.service.streams.open === 0);
    expect(t.gw.router.stats.subscriptions).to.equal(0);
  });

  it('streams cancelled while subscribing leave no subscription and no session behind', async () => {
    const base = t.gw.router.stats.subscriptions;
    // The router takes its time to open each subscription (as when its queue is busy classifying events), so
    // the cancellations land between the subscribe and the router's `opened`.
    const router = t.gw.router;
    const subscribe = router.subscribe.bind(router);
    let asked = 0;
    let answered = 0;
    router.subscribe = (spec, sink) => {
      asked++;
      return new Promise((r) => setTimeout(r, 300)).then(() => subscribe(spec, sink)).finally(() => answered++);
    };
    try {
      const ws = Array.from({ length: 10 }, () => open(c, { mount: M, root_inode: ROOT }));
      await waitFor('every session asked the router', () => asked === 10);
      for (const w of ws) w.close();
      await waitFor('the router answered every subscribe', () => answered === 10);
      await waitFor('every session gone', async () => (await sessions()).length === 0 && router.stats.subscriptions === base, 10_000);
    } finally {
      router.subscribe = subscribe;
    }
    expect(t.gw.service.streams.open).to.equal(0);
  });

  it('a session actor that dies ends only its own stream, with UNAVAILABLE; other streams and unary RPCs go on', async () => {
    const d = await create(ROOT, 'crash', dir());
    const a = watch({ mount: M, root_inode: d });
    await waitFor('a ready', () => a.ready.length === 1);
    const b = watch({ mount: M, root_inode: d });
    await waitFor('b ready', () => b.ready.length === 1);
    const [sa] = await sessions();
    const subs = t.gw.router.stats.subscriptions;
    await t.gw.actors.kill({ thread: sa!.thread, id: sa!.id, name: sa!.name });
    expect(await a.status).to.equal('UNAVAILABLE');
    await create(d, 'after');
    await waitFor('b still gets events', () => b.events.length === 1);
    expect(a.events).to.have.length(0);
    expect(t.gw.router.stats.subscriptions).to.equal(subs - 1);
    expect((await sessions()).map((s) => s.id)).to.not.include(sa!.id);
    const ports = async () => (await t.gw.actors.inspect()).flatMap((th) => th.actors.filter((x) => x.name === 'fsmeta-watch-port'));
    await waitFor('only b keeps a port actor', async () => (await ports()).length === (workers === 0 ? 0 : 1));
  });

  it('a gateway stop ends every stream through its session actor', async () => {
    const other = await startTestGateway({ workers });
    try {
      other.duties.registerMount(M, 1);
      const w = open(other.client, { mount: M, root_inode: ROOT });
      await waitFor('ready', () => w.ready.length === 1);
      await other.stop();
      expect(await w.status).to.equal('END');
      expect(other.gw.service.streams.open).to.equal(0);
    } finally {
      await other.stop().catch(() => undefined);
    }
  });
});
