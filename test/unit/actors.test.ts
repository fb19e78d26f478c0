import { expect } from 'chai';
import { ManualClock } from '../../src/common/clock.js';
import { NotLeaderError, ResourceExhaustedError, TimeoutError, UnavailableError } from '../../src/common/errors.js';
import { silentLogger } from '../../src/common/log.js';
import type { ExitReason } from '../../src/supervisor/types.js';
import { ActorSystem, type ActorContext, type Behaviour } from '../../src/actors/index.js';
import { Mailbox } from '../../src/actors/mailbox.js';
import { createCodec } from '../../src/actors/codec.js';
import { ActorRef, type Router } from '../../src/actors/ref.js';
import { crc32, crc32Update } from '../../src/common/crc32.js';
import type { Batch } from '../../src/actors/protocol.js';

const BEHAVIOURS = new URL('../../src/actors/testing/behaviours.js', import.meta.url).href;

/** Lets every queued microtask (and the actor loops they drive) run; no timer is involved. */
async function settle(): Promise<void> {
  await new Promise<void>((r) => setImmediate(r));
}

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('actors: mailbox', () => {
  it('keeps FIFO order and refuses pushes beyond its limit without growing', () => {
    const box = new Mailbox<number>(3);
    expect([1, 2, 3, 4].map((n) => box.push(n))).to.deep.equal([true, true, true, false]);
    expect(box.size).to.equal(3);
    expect(box.shift()).to.equal(1);
    expect(box.push(5)).to.equal(true);
    expect(box.drain()).to.deep.equal([2, 3, 5]);
    expect(box.size).to.equal(0);
  });

  it('stays FIFO across its internal compaction', () => {
    const box = new Mailbox<number>(5000);
    const out: number[] = [];
    for (let i = 0; i < 4000; i++) {
      box.push(i);
      if (i % 2 === 1) out.push(box.shift()!, box.shift()!);
    }
    expect(out).to.deep.equal([...Array(4000).keys()]);
  });
});

describe('actors: on the owner thread (workers = 0)', () => {
  let clock: ManualClock;
  let system: ActorSystem;

  beforeEach(async () => {
    clock = new ManualClock(1000);
    system = await ActorSystem.start({ role: 'test', workers: 0, clock, logger: silentLogger(), idPrefix: 'u' });
  });

  afterEach(async () => {
    await system.shutdown();
  });

  it('delivers tells in the order they were sent', async () => {
    const seen: number[] = [];
    const ref = await system.spawn<number>({ name: 'rec', behaviour: { receive: (m: number) => void seen.push(m) } });
    for (let i = 0; i < 200; i++) ref.tell(i);
    await settle();
    expect(seen).to.deep.equal([...Array(200).keys()]);
  });

  it('handles one message at a time: the next waits until an async handler settles', async () => {
    const gates = [deferred(), deferred()];
    const log: string[] = [];
    const ref = await system.spawn<number>({
      name: 'slow',
      behaviour: {
        async receive(m: number) {
          log.push(`start ${m}`);
          if (gates[m]) await gates[m].promise;
          log.push(`end ${m}`);
        },
      },
    });
    ref.tell(0);
    ref.tell(1);
    ref.tell(2);
    await settle();
    expect(log).to.deep.equal(['start 0']);
    gates[0].resolve();
    await settle();
    expect(log).to.deep.equal(['start 0', 'end 0', 'start 1']);
    gates[1].resolve();
    await settle();
    expect(log).to.deep.equal(['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
  });

  it('rejects a tell to a full mailbox with ResourceExhaustedError instead of growing', async () => {
    const gate = deferred();
    const ref = await system.spawn<number>({ name: 'stuck', mailboxLimit: 3, behaviour: { receive: () => gate.promise } });
    ref.tell(0); // taken out of the mailbox and being handled
    await settle();
    ref.tell(1);
    ref.tell(2);
    ref.tell(3);
    expect(() => ref.tell(4)).to.throw(ResourceExhaustedError);
    const err = await ref.ask(5).catch((e) => e);
    expect(err).to.be.instanceOf(ResourceExhaustedError);
    const [owner] = await system.inspect();
    expect(owner.actors.find((a) => a.name === 'stuck')?.mailbox).to.equal(3);
    gate.resolve();
  });

  it('times an ask out on the injected clock with TimeoutError', async () => {
    const ref = await system.spawn({ name: 'silent', behaviour: { receive: (_m: unknown, ctx: ActorContext) => void ctx.deferReply() } });
    let outcome: unknown = 'pending';
    const p = ref.ask('hello', { timeoutMs: 500 }).then(
      (v) => (outcome = v),
      (e) => (outcome = e),
    );
    await settle();
    clock.advance(499);
    await settle();
    expect(outcome).to.equal('pending');
    clock.advance(1);
    await p;
    expect(outcome).to.be.instanceOf(TimeoutError);
  });

  it('answers an ask with ctx.reply, and with undefined when the handler forgot to reply', async () => {
    const ref = await system.spawn<string>({
      name: 'answers',
      behaviour: { receive: (m: string, ctx: ActorContext) => (m === 'reply' ? ctx.reply('yes') : undefined) },
    });
    expect(await ref.ask('reply')).to.equal('yes');
    expect(await ref.ask('nothing')).to.equal(undefined);
  });

  it('delivers a message to self after a delay on the injected clock, and cancels it when the actor stops', async () => {
    const seen: string[] = [];
    const ref = await system.spawn<string>({
      name: 'timer',
      behaviour: {
        receive(m: string, ctx: ActorContext<string>) {
          seen.push(m);
          if (m === 'arm') ctx.sendSelfAfter(100, 'tick');
          if (m === 'arm-long') ctx.sendSelfAfter(10_000, 'never');
        },
      },
    });
    ref.tell('arm');
    await settle();
    clock.advance(99);
    await settle();
    expect(seen).to.deep.equal(['arm']);
    clock.advance(1);
    await settle();
    expect(seen).to.deep.equal(['arm', 'tick']);
    ref.tell('arm-long');
    await settle();
    await system.stop(ref);
    expect(clock.pending()).to.equal(0);
  });

  it('stops an actor whose handler throws, reports { error } and fails the ask with the same class', async () => {
    const exits: ExitReason[] = [];
    const terminated: ExitReason[] = [];
    const ref = await system.spawn({
      name: 'crashy',
      onExit: (r) => exits.push(r),
      behaviour: {
        receive() {
          throw new NotLeaderError('not me', { leaderId: 3 });
        },
        terminate: (r: ExitReason) => void terminated.push(r),
      } as Behaviour,
    });
    const err = (await ref.ask('x').catch((e) => e)) as NotLeaderError;
    expect(err).to.be.instanceOf(NotLeaderError);
    expect(err.details).to.deep.equal({ leaderId: 3 });
    await settle();
    expect(exits).to.have.length(1);
    expect(exits[0]).to.have.nested.property('error.name', 'NotLeaderError');
    expect(terminated).to.have.length(1);
    const after = await ref.ask('y').catch((e) => e);
    expect(after).to.be.instanceOf(UnavailableError);
  });

  it('reports normal for ctx.stop(), shutdown for system.stop() and killed for kill()', async () => {
    const reasons: Record<string, ExitReason> = {};
    const make = (name: string) =>
      system.spawn<string>({
        name,
        onExit: (r) => (reasons[name] = r),
        behaviour: { receive: (m: string, ctx: ActorContext) => (m === 'stop' ? ctx.stop() : undefined) },
      });
    const a = await make('a');
    const b = await make('b');
    const c = await make('c');
    a.tell('stop');
    await system.stop(b);
    await system.kill(c);
    await settle();
    expect(reasons).to.deep.equal({ a: 'normal', b: 'shutdown', c: 'killed' });
  });

  it('fails the asks still queued when an actor stops', async () => {
    const gate = deferred();
    const ref = await system.spawn({ name: 'busy', behaviour: { receive: () => gate.promise } });
    const first = ref.ask(1, { timeoutMs: 60_000 });
    const queued = ref.ask(2, { timeoutMs: 60_000 }).catch((e) => e);
    await settle();
    const stopped = system.stop(ref);
    gate.resolve();
    await stopped;
    expect(await first).to.equal(undefined);
    expect(await queued).to.be.instanceOf(UnavailableError);
  });

  it('refuses an ask to an actor that is stopping with UnavailableError, not a full-mailbox error', async () => {
    const gate = deferred();
    const ref = await system.spawn({ name: 'closing', behaviour: { receive: () => gate.promise } });
    const first = ref.ask(1, { timeoutMs: 60_000 });
    await settle();
    const stopped = system.stop(ref);
    const late = await ref.ask(2, { timeoutMs: 60_000 }).catch((e) => e);
    expect(late).to.be.instanceOf(UnavailableError);
    gate.resolve();
    await stopped;
    await first;
  });

  it('stops every actor in reverse spawn order on shutdown', async () => {
    const order: string[] = [];
    for (const name of ['first', 'second', 'third']) {
      await system.spawn({ name, behaviour: { receive() {}, terminate: () => void order.push(name) } });
    }
    await system.shutdown();
    expect(order).to.deep.equal(['third', 'second', 'first']);
  });

  it('spawns by module and export name on the owner thread too, with args on every start', async () => {
    const counter = await system.spawn({ name: 'counter', module: BEHAVIOURS, export: 'Counter', args: { start: 40 } });
    counter.tell({ type: 'inc', by: 2 });
    expect(await counter.ask({ type: 'get' })).to.equal(42);
  });

  it('refuses to spawn a behaviour object onto a worker or with a missing export', async () => {
    const err = await system.spawn({ name: 'x', module: BEHAVIOURS, export: 'NoSuchExport' }).catch((e) => e);
    expect(err).to.have.property('code', 'INVALID_ARGUMENT');
    const err2 = await system.spawn({ name: 'y', thread: 1, behaviour: { receive() {} } }).catch((e) => e);
    expect(err2).to.have.property('code', 'INVALID_ARGUMENT');
  });

  it('continues the trace of the handled message when an actor tells another through ctx', async () => {
    const traces: string[] = [];
    const second = await system.spawn({ name: 'second', behaviour: { receive: (_m: unknown, ctx: ActorContext) => void traces.push(`${ctx.trace.traceId}<${ctx.trace.sender}`) } });
    const first = await system.spawn({
      name: 'first',
      behaviour: {
        receive(_m: unknown, ctx: ActorContext) {
          traces.push(`${ctx.trace.traceId}<${ctx.trace.sender}`);
          ctx.tell(second, 'next');
        },
      },
    });
    first.tell('go', { trace: { traceId: 'T1', spanId: 'S1', sender: 'test' } });
    await settle();
    expect(traces).to.deep.equal(['T1<test', 'T1<first']);
  });
});

describe('actors: envelope codecs', () => {
  const router: Router = {
    tell: () => {},
    ask: async () => 'routed',
  };

  for (const name of ['msgpack', 'clone'] as const) {
    it(`${name}: round-trips a batch and re-binds refs inside messages to the receiving router`, async () => {
      const codec = createCodec(name);
      const ref = new ActorRef(2, 17, 'region-7', router);
      const batch: Batch = {
        from: 1,
        seq: 4,
        envs: [
          { k: 'event', to: 3, msg: { reply: ref, nested: [{ ref }], bytes: new Uint8Array([1, 2, 3]), big: 12n }, trace: { traceId: 't', spanId: 's', sender: 'a' } },
          { k: 'reply', seq: 9, value: [ref] },
        ],
      };
      const enc = codec.encode(batch);
      // Through a real structured clone, as postMessage does.
      const wire = structuredClone(enc.data, { transfer: enc.transfer });
      const out = codec.decode(wire, router);
      const msg = (out.envs[0] as { msg: { reply: ActorRef; nested: { ref: ActorRef }[]; bytes: Uint8Array; big: bigint } }).msg;
      expect(msg.reply).to.be.instanceOf(ActorRef);
      expect(msg.reply.equals(ref)).to.equal(true);
      expect(msg.nested[0].ref).to.be.instanceOf(ActorRef);
      expect(await msg.reply.ask('x')).to.equal('routed');
      expect([...msg.bytes]).to.deep.equal([1, 2, 3]);
      expect(msg.big).to.equal(12n);
      expect((out.envs[1] as { value: ActorRef[] }).value[0]).to.be.instanceOf(ActorRef);
      expect(out.seq).to.equal(4);
    });
  }
});

describe('actors: crc32', () => {
  it('matches the standard check value and continues across split buffers', () => {
    const data = new TextEncoder().encode('123456789');
    expect(crc32(data)).to.equal(0xcbf43926);
    expect(crc32Update(crc32(data.subarray(0, 4)), data.subarray(4))).to.equal(0xcbf43926);
  });
});
