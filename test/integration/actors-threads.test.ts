import { expect } from 'chai';
import { MessagePort } from 'node:worker_threads';
import { unpack } from 'msgpackr';
import { NotLeaderError, ResourceExhaustedError, UnavailableError } from '../../src/common/errors.js';
import { silentLogger } from '../../src/common/log.js';
import { liveResources } from '../../src/common/resources.js';
import type { ExitReason } from '../../src/supervisor/types.js';
import { ActorRef, ActorSystem, CpuPool, type ActorContext } from '../../src/actors/index.js';
import { crc32 } from '../../src/common/crc32.js';
import { waitFor } from '../support/env.js';

const BEHAVIOURS = new URL('../../src/actors/testing/behaviours.js', import.meta.url).href;

function workerResources(): number {
  return liveResources().filter((r) => r.kind === 'worker').length;
}

describe('actors across worker threads', function () {
  this.timeout(20_000);
  let system: ActorSystem;

  beforeEach(async () => {
    system = await ActorSystem.start({ role: 'test', workers: 2, logger: silentLogger(), logLevel: 'silent' });
  });

  afterEach(async () => {
    await system.shutdown();
  });

  it('revives typed errors with their class and details, whether replied or thrown on a worker', async () => {
    const failer = await system.spawn({ name: 'failer', module: BEHAVIOURS, export: 'Failer', thread: 1 });
    const replied = (await failer.ask({ type: 'fail', kind: 'not-leader' }).catch((e) => e)) as NotLeaderError;
    expect(replied).to.be.instanceOf(NotLeaderError);
    expect(replied.details).to.deep.equal({ leaderId: 2, leaderAddr: '127.0.0.1:2381' });
    expect(await failer.ask({ type: 'ping' }), 'a ctx.fail does not stop the actor').to.equal('pong');

    const exits: ExitReason[] = [];
    system.onExit(failer, (r) => exits.push(r));
    const thrown = await failer.ask({ type: 'throw', kind: 'exhausted' }).catch((e) => e);
    expect(thrown).to.be.instanceOf(ResourceExhaustedError);
    await waitFor('exit report', () => exits.length === 1);
    expect(exits[0]).to.have.nested.property('error.name', 'ResourceExhaustedError');
  });

  it('keeps refs working when they travel inside messages between any two threads', async () => {
    const echoOnWorker1 = await system.spawn({ name: 'echo-1', module: BEHAVIOURS, export: 'Echo', thread: 1 });
    const fwdOnWorker2 = await system.spawn({ name: 'fwd-2', module: BEHAVIOURS, export: 'Forwarder', thread: 2 });
    const onOwner = await system.spawn<string>({ name: 'owner-echo', thread: 0, behaviour: { receive: (m: string, ctx: ActorContext) => ctx.reply(`owner:${m}`) } });

    // worker 2 asks worker 1 directly, using a ref it received in the message
    expect(await fwdOnWorker2.ask({ to: echoOnWorker1, payload: 'a' })).to.deep.include({ answer: 'a', viaThread: 2, refThread: 1 });
    // worker 2 asks back into the owner thread
    expect(await fwdOnWorker2.ask({ to: onOwner, payload: 'b' })).to.deep.include({ answer: 'owner:b', refThread: 0 });
    // a ref that went to a worker and came back in a reply still works here
    const back = await echoOnWorker1.ask<ActorRef>(onOwner);
    expect(back).to.be.instanceOf(ActorRef);
    expect(await back.ask('c')).to.equal('owner:c');
  });

  it('delivers many tells to another thread in order, batched into few postMessage calls', async () => {
    const rec = await system.spawn({ name: 'rec', module: BEHAVIOURS, export: 'Recorder', thread: 1 });
    const original = MessagePort.prototype.postMessage;
    let posts = 0;
    MessagePort.prototype.postMessage = function (this: MessagePort, ...args: Parameters<typeof original>) {
      posts++;
      return original.apply(this, args);
    };
    try {
      for (let i = 0; i < 5000; i++) rec.tell(i);
      await new Promise((r) => setImmediate(r));
    } finally {
      MessagePort.prototype.postMessage = original;
    }
    expect(posts, 'one turn of tells to one thread is one batch').to.equal(1);
    const seen = await rec.ask<number[]>('dump');
    expect(seen).to.deep.equal([...Array(5000).keys()]);
  });

  it('reports every actor of a terminated worker as killed, fails asks to it, and respawns the thread on the next spawn', async () => {
    const exits: Record<string, ExitReason> = {};
    const a = await system.spawn({ name: 'a', module: BEHAVIOURS, export: 'Echo', thread: 1, onExit: (r) => (exits.a = r) });
    await system.spawn({ name: 'b', module: BEHAVIOURS, export: 'Counter', thread: 1, onExit: (r) => (exits.b = r) });
    const fwd = await system.spawn({ name: 'fwd', module: BEHAVIOURS, export: 'Forwarder', thread: 2 });
    expect(await a.ask('alive')).to.equal('alive');

    await system.killThread(1);
    expect(exits).to.deep.equal({ a: 'killed', b: 'killed' });
    expect(system.liveThreads()).to.deep.equal([0, 2]);
    expect(await a.ask('x').catch((e) => e)).to.be.instanceOf(UnavailableError);
    // The forwarder's own ask fails with UnavailableError, which it does not catch: it crashes with it.
    expect(await fwd.ask({ to: a, payload: 'x' }).catch((e) => e), 'the other worker learns too').to.be.instanceOf(UnavailableError);

    const again = await system.spawn({ name: 'a2', module: BEHAVIOURS, export: 'Echo', thread: 1 });
    const fwd2 = await system.spawn({ name: 'fwd2', module: BEHAVIOURS, export: 'Forwarder', thread: 2 });
    expect(system.liveThreads()).to.deep.equal([0, 1, 2]);
    expect(await fwd2.ask({ to: again, payload: 'y' }), 'workers are re-linked after a respawn').to.deep.include({ answer: 'y' });
  });

  it('reports { error } for the actors of a worker that dies on its own (process.exit or an uncaught error)', async () => {
    const exits: ExitReason[] = [];
    const f1 = await system.spawn({ name: 'f1', module: BEHAVIOURS, export: 'Failer', thread: 1, onExit: (r) => exits.push(r) });
    const f2 = await system.spawn({ name: 'f2', module: BEHAVIOURS, export: 'Failer', thread: 2, onExit: (r) => exits.push(r) });
    const exited = f1.ask({ type: 'exit-thread', code: 3 }).catch((e) => e);
    expect(await exited).to.be.instanceOf(UnavailableError);
    await waitFor('exit of f1', () => exits.length === 1);
    expect(exits[0]).to.have.nested.property('error.message').that.matches(/exited with code 3/);

    expect(await f2.ask({ type: 'uncaught' })).to.equal('scheduled');
    await waitFor('exit of f2', () => exits.length === 2);
    expect(exits[1]).to.have.nested.property('error.message', 'uncaught failure in a worker');
  });

  it('shows mailbox sizes, counters and state of actors on every thread', async () => {
    const counter = await system.spawn({ name: 'counter', module: BEHAVIOURS, export: 'Counter', thread: 2, args: { start: 5 } });
    counter.tell({ type: 'inc' });
    expect(await counter.ask({ type: 'get' })).to.equal(6);
    const threads = await system.inspect();
    expect(threads.map((t) => t.thread)).to.deep.equal([0, 1, 2]);
    const stats = threads[2].actors.find((a) => a.name === 'counter');
    expect(stats).to.deep.include({ mailbox: 0, processed: 2, dropped: 0, state: { count: 6 } });
  });

  it('stops actors on all threads in reverse order and leaves no worker thread registered', async () => {
    const exits: string[] = [];
    for (const [name, thread] of [['w1', 1], ['w2', 2], ['o', 0]] as const) {
      await system.spawn({ name, module: BEHAVIOURS, export: 'Echo', thread, onExit: (r) => exits.push(`${name}:${String(r)}`) });
    }
    expect(workerResources()).to.be.at.least(2);
    await system.shutdown();
    expect(exits).to.deep.equal(['o:shutdown', 'w2:shutdown', 'w1:shutdown']);
    expect(workerResources()).to.equal(0);
  });
});

describe('actors: CpuPool', function () {
  this.timeout(20_000);

  it('computes crc32 and msgpack encodings of big buffers on a pool thread', async () => {
    const pool = new CpuPool({ maxThreads: 1 });
    try {
      const big = new Uint8Array(4 << 20);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
      expect(await pool.crc32(big)).to.equal(crc32(big));
      const value = { rows: Array.from({ length: 1000 }, (_, i) => ({ key: `k${i}`, version: i })) };
      const encoded = await pool.msgpackEncode(value);
      expect(unpack(encoded)).to.deep.equal(value);
    } finally {
      await pool.destroy();
    }
    expect(workerResources()).to.equal(0);
  });
});
