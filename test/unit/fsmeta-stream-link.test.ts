// The main-thread half of a WatchSubtree stream: when the client cancels, the link closes the router
// subscription and counts the stream closed itself, whether or not the session ever hears of it (a tell to a
// session on another thread whose mailbox is full is dropped unseen).
import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { StreamLink, type StreamStats } from '../../src/gateway/server/stream-link.js';

class FakeCall extends EventEmitter {
  cancelled = false;
  written: unknown[] = [];
  ended = false;
  pause() {}
  resume() {}
  write(m: unknown) {
    this.written.push(m);
    return true;
  }
  end() {
    this.ended = true;
  }
}

function setUp() {
  const call = new FakeCall();
  const closed: string[] = [];
  const router = {
    subscribe: async (_spec: unknown, sink: { opened(sub: unknown): void }) => {
      const sub = { close: () => closed.push('sub'), ack: () => {} };
      sink.opened(sub);
      return sub;
    },
  };
  const stats: StreamStats = { open: 0, opened: 0, closedWithError: 0 };
  const link = new StreamLink(call as any, { router: router as any, duties: {} as any, stats }, undefined);
  const told: unknown[] = [];
  return { call, closed, stats, link, told };
}

describe('fsmeta stream link (main-thread half of a watch stream)', () => {
  for (const sessionHears of [true, false]) {
    it(`a cancelled call closes the subscription and the stream at once (${sessionHears ? 'the session hears of it' : 'the tell to the session is lost'})`, async () => {
      const { call, closed, stats, link, told } = setUp();
      // A session ref whose tells vanish models a full cross-thread mailbox.
      link.attach({ tell: (m: unknown) => (sessionHears ? told.push(m) : undefined) } as any);
      link.subscribe({ mount: 'm', rootInode: 1n } as any);
      await new Promise((r) => setImmediate(r));
      expect(stats.open).to.equal(1);
      call.cancelled = true;
      call.emit('cancelled');
      expect(closed).to.deep.equal(['sub']);
      expect(stats.open).to.equal(0);
      expect(told.some((m: any) => m.t === 'end')).to.equal(sessionHears);
      // A session that finishes later changes nothing.
      link.finish();
      expect(stats.open).to.equal(0);
      expect(closed).to.deep.equal(['sub']);
    });
  }

  it('a subscription the router opens after the cancel is closed as it opens', async () => {
    const call = new FakeCall();
    const closed: string[] = [];
    let open: (() => void) | undefined;
    const router = {
      subscribe: (_spec: unknown, sink: { opened(sub: unknown): void }) =>
        new Promise((resolve) => {
          open = () => {
            const sub = { close: () => closed.push('sub'), ack: () => {} };
            sink.opened(sub);
            resolve(sub);
          };
        }),
    };
    const stats: StreamStats = { open: 0, opened: 0, closedWithError: 0 };
    const link = new StreamLink(call as any, { router: router as any, duties: {} as any, stats }, undefined);
    link.attach({ tell: () => undefined } as any);
    link.subscribe({ mount: 'm', rootInode: 1n } as any);
    call.cancelled = true;
    call.emit('cancelled');
    expect(stats.open).to.equal(0);
    open!();
    await new Promise((r) => setImmediate(r));
    expect(closed).to.deep.equal(['sub']);
  });
});
