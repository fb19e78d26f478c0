import { expect } from 'chai';
import { ExpvarRegistry, parseHostPort, startExpvarServer } from '../../src/expvar/server.js';
import { InvalidArgumentError } from '../../src/common/errors.js';

describe('expvar /debug/vars', () => {
  it('serves cmdline, pid, memstats and published variables evaluated at scrape time', async () => {
    const registry = new ExpvarRegistry();
    let counter = 0;
    registry.publish('nokv_test', () => ({ counter: ++counter, big: 2n ** 64n }));
    registry.publish('static_value', 42);
    registry.publish('broken', () => { throw new Error('boom'); });
    const server = await startExpvarServer('127.0.0.1:0', registry);
    try {
      const url = `http://127.0.0.1:${server.port}/debug/vars`;
      const first = (await (await fetch(url)).json()) as any;
      const second = (await (await fetch(url)).json()) as any;
      expect(first.cmdline).to.be.an('array');
      expect(first.pid).to.equal(process.pid);
      expect(first.memstats.rss_bytes).to.be.greaterThan(0);
      expect(first.nokv_test.counter).to.equal(1);
      expect(second.nokv_test.counter).to.equal(2);
      expect(first.nokv_test.big).to.equal('18446744073709551616');
      expect(first.static_value).to.equal(42);
      expect(first.broken).to.deep.equal({ error: 'boom' });
      const res = await fetch(`http://127.0.0.1:${server.port}/other`);
      expect(res.status).to.equal(404);
      await res.text();
      expect((await fetch(url)).headers.get('access-control-allow-origin')).to.equal('*');
    } finally {
      await server.close();
    }
  });

  it('awaits async variables, and shows a failing or hanging one as an error without holding the scrape', async () => {
    const registry = new ExpvarRegistry();
    registry.publish('later', async () => {
      await new Promise((r) => setTimeout(r, 20));
      return { ok: true };
    });
    registry.publish('rejects', () => Promise.reject(new Error('gone')));
    registry.publish('hangs', () => new Promise(() => {}));
    const started = Date.now();
    const doc = await registry.snapshot();
    expect(doc.later).to.deep.equal({ ok: true });
    expect(doc.rejects).to.deep.equal({ error: 'gone' });
    expect(doc.hangs).to.deep.equal({ error: 'timed out' });
    // Bounded by ASYNC_VAR_TIMEOUT_MS (1 s); a generous bound for a loaded machine.
    expect(Date.now() - started).to.be.below(5_000);
  });

  it('rejects malformed addresses with a one-line error', () => {
    expect(() => parseHostPort('nonsense')).to.throw(InvalidArgumentError, /want host:port/);
    expect(() => parseHostPort('127.0.0.1:99999')).to.throw(InvalidArgumentError);
    expect(parseHostPort('127.0.0.1:9380')).to.deep.equal({ host: '127.0.0.1', port: 9380 });
    expect(parseHostPort('[::1]:80')).to.deep.equal({ host: '::1', port: 80 });
  });

  it('refuses to publish one name twice', () => {
    const r = new ExpvarRegistry();
    r.publish('a', 1);
    expect(() => r.publish('a', 2)).to.throw(/twice/);
  });
});
