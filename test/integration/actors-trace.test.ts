import { expect } from 'chai';
import { ActorSystem } from '../../src/actors/index.js';
import { waitFor } from '../support/env.js';

const BEHAVIOURS = new URL('../../src/actors/testing/behaviours.js', import.meta.url).href;

interface LogLine {
  msg?: string;
  role?: string;
  node?: string;
  thread?: number;
  actor?: string;
  trace?: string;
  span?: string;
  note?: string;
}

describe('actors: tracing', function () {
  this.timeout(20_000);

  it('follows one trace id through three actors on two threads in the real log output', async () => {
    const raw: string[] = [];
    const system = await ActorSystem.start({
      role: 'trace-test',
      node: 'n1',
      workers: 1,
      logLevel: 'info',
      forwardWorkerLogs: true,
      logDestination: { write: (line: string) => void raw.push(line) },
    });
    try {
      const a = await system.spawn({ name: 'hop-a', module: BEHAVIOURS, export: 'TraceHop', thread: 0 });
      const b = await system.spawn({ name: 'hop-b', module: BEHAVIOURS, export: 'TraceHop', thread: 1 });
      const c = await system.spawn({ name: 'hop-c', module: BEHAVIOURS, export: 'TraceHop', thread: 0 });
      // A second, unrelated request, so the assertion must pick out the right trace.
      await a.ask({ hops: [b], note: 'other' });

      const traceId = 'trace-4242';
      const path = await a.ask({ hops: [b, c], note: 'followed' }, { trace: { traceId, spanId: 'root', sender: 'test' } });
      expect(path).to.deep.equal(['hop-a', 'hop-b', 'hop-c']);

      const parse = () =>
        raw.flatMap((chunk) => chunk.split('\n')).filter(Boolean).map((l) => JSON.parse(l) as LogLine);
      const traced = (await waitFor('three hop lines of the trace', () => {
        const lines = parse().filter((l) => l.trace === traceId && l.msg === 'hop');
        return lines.length === 3 ? lines : undefined;
      }))!;
      // Forwarded worker lines arrive asynchronously, so compare by actor rather than by arrival order.
      const threadOf = Object.fromEntries(traced.map((l) => [l.actor, l.thread]));
      expect(threadOf).to.deep.equal({ 'hop-a': 0, 'hop-b': 1, 'hop-c': 0 });
      expect(new Set(traced.map((l) => l.span)).size, 'each hop is its own span').to.equal(3);
      for (const l of traced) expect(l).to.deep.include({ role: 'trace-test', node: 'n1', note: 'followed' });
      expect(parse().filter((l) => l.note === 'other').every((l) => l.trace !== traceId)).to.equal(true);
    } finally {
      await system.shutdown();
    }
  });
});
