// One fsmeta Create followed by its trace id through the logs of the real processes of a whole cluster
// (`nokv cluster up` at debug level): the caller starts a W3C trace (traceparent only), and the same trace id
// names the gateway's line for the Create, the gateway's calls to the stores, the store's line for the call
// it served, and the store leader's `raft entry applied` for the entry the call proposed.
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { newSpanId, newTraceId } from '../../src/common/trace-context.js';
import { fsmetaClusterUp, type FsmetaCluster } from '../fixtures/fsmeta-cluster.js';
import { file } from '../fixtures/fsmeta-gateway.js';
import { waitFor } from '../support/env.js';

interface Line {
  msg?: string;
  trace?: string;
  rpc?: string;
  role?: string;
  code?: string;
}

/** Every JSON line carrying `traceId`, per log file (`fsmeta-1`, `store-2`, ...). */
function linesOf(logDir: string, traceId: string): Map<string, Line[]> {
  const out = new Map<string, Line[]>();
  for (const f of readdirSync(logDir).filter((n) => n.endsWith('.log'))) {
    const mine: Line[] = [];
    for (const raw of readFileSync(join(logDir, f), 'utf8').split('\n')) {
      if (!raw.includes(traceId)) continue;
      try {
        const l = JSON.parse(raw) as Line;
        if (l.trace === traceId) mine.push(l);
      } catch {
        // not a JSON line (a stack trace, a partial write)
      }
    }
    if (mine.length > 0) out.set(f.slice(0, -4).replace(/^nokv-/, ''), mine);
  }
  return out;
}

describe('tracing: one fsmeta Create followed across gateway, store and raft apply', function () {
  this.timeout(180_000);
  let c: FsmetaCluster | undefined;
  const level = process.env.NOKV_LOG_LEVEL;

  before(async () => {
    // The cluster's processes inherit it: every role logs its debug lines (rpc served / answered, raft apply).
    process.env.NOKV_LOG_LEVEL = 'debug';
    try {
      c = await fsmetaClusterUp();
    } finally {
      if (level === undefined) delete process.env.NOKV_LOG_LEVEL;
      else process.env.NOKV_LOG_LEVEL = level;
    }
  });

  after(async () => {
    await c?.close();
  });

  it('names the same trace id in the gateway, the store front and the store raft apply', async () => {
    const traceId = newTraceId();
    const md = c!.fs.metadata();
    md.set('traceparent', `00-${traceId}-${newSpanId()}-01`);
    const res = await c!.fs.call('Create', { mount: 'default', parent: '1', name: `traced-${traceId.slice(0, 8)}`, attrs: file() }, md);
    expect(res.inode.inode).to.be.a('string');
    const logDir = join(c!.cluster.dataDir, 'logs');
    // Log lines reach the files through the cluster manager: wait until the store's apply line is there.
    const seen = (await waitFor('the trace in the gateway and a store apply', () => {
      const m = linesOf(logDir, traceId);
      const storeApply = [...m].find(([name, ls]) => name.startsWith('store') && ls.some((l) => l.msg === 'raft entry applied'));
      return m.has('fsmeta-1') && storeApply ? m : undefined;
    }, 20_000, 200))!;
    const gateway = seen.get('fsmeta-1')!;
    expect(gateway.some((l) => l.msg === 'rpc served' && l.rpc === '/nokv.fsmeta.v1.FSMetadata/Create' && l.code === 'OK'), 'gateway served the Create').to.equal(true);
    const toStores = gateway.filter((l) => l.msg === 'rpc answered' && String(l.rpc).startsWith('/nokv.kv.v1.StoreKV/'));
    expect(toStores.length, 'gateway calls to the stores under the trace').to.be.greaterThan(0);
    const stores = [...seen].filter(([name]) => name.startsWith('store'));
    const served = stores.flatMap(([, ls]) => ls.filter((l) => l.msg === 'rpc served' && String(l.rpc).startsWith('/nokv.kv.v1.StoreKV/')));
    expect(served.length, 'a store served a call of the trace').to.be.greaterThan(0);
    for (const [name, ls] of stores) for (const l of ls) expect(l.role, `${name} lines are a store's`).to.equal('store');
  });
});
