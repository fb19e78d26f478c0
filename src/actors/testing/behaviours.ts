// Small behaviours used by the actor runtime's own tests and benchmark. They live in src/ (not test/) because
// worker threads load behaviours by module URL from the built tree, and the benchmark needs them too.
import { NotLeaderError, ResourceExhaustedError } from '../../common/errors.js';
import type { ActorContext, Behaviour } from '../behaviour.js';
import type { ActorRef } from '../ref.js';

/** Replies to every ask with the message itself. */
export const Echo = (): Behaviour => ({
  receive(msg, ctx) {
    ctx.reply(msg);
  },
});

export type CounterMsg = { type: 'inc'; by?: number } | { type: 'get' };

/** Keeps a count; the state a supervisor test can see reset after a restart. */
export class Counter implements Behaviour<CounterMsg> {
  private count: number;
  constructor(args: { start?: number } | undefined) {
    this.count = args?.start ?? 0;
  }
  receive(msg: CounterMsg, ctx: ActorContext<CounterMsg>): void {
    if (msg.type === 'inc') this.count += msg.by ?? 1;
    else ctx.reply(this.count);
  }
  inspect(): unknown {
    return { count: this.count };
  }
}

export type FailMsg =
  | { type: 'throw'; kind: 'not-leader' | 'exhausted' | 'plain' }
  | { type: 'fail'; kind: 'not-leader' }
  | { type: 'exit-thread'; code: number }
  | { type: 'uncaught' }
  | { type: 'ping' };

function makeError(kind: string): Error {
  if (kind === 'not-leader') return new NotLeaderError('not the leader', { leaderId: 2, leaderAddr: '127.0.0.1:2381' });
  if (kind === 'exhausted') return new ResourceExhaustedError('quota exceeded', { limit: 7 });
  return new Error('plain failure');
}

/** Fails on demand in every way a real actor can: typed reply, handler throw, dying thread. */
export const Failer = (): Behaviour<FailMsg> => ({
  receive(msg, ctx) {
    switch (msg.type) {
      case 'throw':
        throw makeError(msg.kind);
      case 'fail':
        ctx.fail(makeError(msg.kind));
        return;
      case 'exit-thread':
        process.exit(msg.code);
      // eslint-disable-next-line no-fallthrough
      case 'uncaught':
        // Later than the flush of the reply, so the asker gets its answer before the thread dies.
        setTimeout(() => {
          throw new Error('uncaught failure in a worker');
        }, 20);
        ctx.reply('scheduled');
        return;
      case 'ping':
        ctx.reply('pong');
        return;
    }
  },
});

export type ForwardMsg = { to: ActorRef; payload: unknown };

/** Asks the ref it was handed inside the message and replies with that answer plus where it ran. */
export const Forwarder = (): Behaviour<ForwardMsg> => ({
  async receive(msg, ctx) {
    const answer = await ctx.ask(msg.to, msg.payload);
    ctx.reply({ answer, via: ctx.self.name, viaThread: ctx.self.thread, refThread: msg.to.thread });
  },
});

export type HopMsg = { hops: ActorRef<HopMsg>[]; note: string };

/** Logs the hop, then asks the next actor in the list (continuing the trace) and relays its answer. */
export const TraceHop = (): Behaviour<HopMsg> => ({
  async receive(msg, ctx) {
    ctx.log.info({ note: msg.note }, 'hop');
    const [next, ...rest] = msg.hops;
    if (!next) {
      ctx.reply([ctx.self.name]);
      return;
    }
    const tail = await ctx.ask<string[]>(next, { hops: rest, note: msg.note });
    ctx.reply([ctx.self.name, ...tail]);
  },
});

export type PingMsg = { n: number; from?: ActorRef<PongMsg> };
export type PongMsg = { n: number };

/** Answers asks at once, and answers tells carrying a `from` ref with a tell back (pipelined ping-pong). */
export const Ponger = (): Behaviour<PingMsg> => ({
  receive(msg, ctx) {
    if (msg.from) msg.from.tell({ n: msg.n });
    else ctx.reply(msg.n);
  },
});

/** Remembers every message in arrival order; an ask for 'dump' returns them. */
export const Recorder = (): Behaviour => {
  const seen: unknown[] = [];
  return {
    receive(msg, ctx) {
      if (msg === 'dump') ctx.reply(seen.slice());
      else seen.push(msg);
    },
    inspect: () => ({ seen: seen.length }),
  };
};

export type AlarmMsg = { t: 'arm'; ms: number; to: ActorRef } | { t: 'ring'; to: ActorRef; armedAt: number };

/** Arms a timer with sendSelfAfter and, when it rings, tells `to` when (on its own clock) it was armed and rang. */
export const Alarm = (): Behaviour<AlarmMsg> => ({
  receive(msg, ctx) {
    if (msg.t === 'arm') ctx.sendSelfAfter(msg.ms, { t: 'ring', to: msg.to, armedAt: ctx.clock.now() });
    else msg.to.tell({ armedAt: msg.armedAt, rangAt: ctx.clock.now() });
  },
});
