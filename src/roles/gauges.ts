// Owns the Prometheus series that describe a role's state (raft term and leadership, lease holder and era,
// regions, fsmeta operations). They are read at scrape time from what the role already publishes on
// /debug/vars, so there is one source for both views and nothing to keep in step.
import { Counter } from 'prom-client';
import { gaugeFrom, registry } from '../common/metrics.js';
import type { ExpvarRegistry } from '../expvar/server.js';

type Vars = Record<string, any> | undefined;

let source: ExpvarRegistry | undefined;

/**
 * Registers the state series of every role kind (once per process; each reports nothing in a process that
 * lacks its variable) and reads them from `expvar`. A process runs one role; a test that starts several in one
 * process sees the latest one's.
 */
export function registerStateGauges(expvar: ExpvarRegistry): void {
  const first = source === undefined;
  source = expvar;
  if (first) register();
}

function register(): void {
  const v = (name: string) => source?.value(name) as Vars;
  gaugeFrom('nokv_meta_root_raft_term', 'raft term of this meta-root replica', [], () => {
    const m = v('nokv_meta_root');
    return m ? [{ value: Number(m.term) }] : [];
  });
  gaugeFrom('nokv_meta_root_is_leader', '1 if this meta-root replica leads the root raft group', [], () => {
    const m = v('nokv_meta_root');
    return m ? [{ value: m.is_leader ? 1 : 0 }] : [];
  });
  gaugeFrom('nokv_meta_root_commit_index', 'raft commit index of this meta-root replica', [], () => {
    const m = v('nokv_meta_root');
    return m ? [{ value: Number(m.commit_index) }] : [];
  });
  gaugeFrom('nokv_lease_era', 'Eunomia era of the tenure this coordinator sees', [], () => {
    const c = v('nokv_coordinator');
    return c?.lease ? [{ value: Number(c.lease.era) }] : [];
  });
  gaugeFrom('nokv_lease_holder', '1 for the holder this coordinator sees (label holder), 1 on held_by_self if it is this one', ['holder', 'self'], () => {
    const c = v('nokv_coordinator');
    return c?.lease ? [{ labels: { holder: String(c.lease.holder_id || 'none'), self: c.lease.held_by_self ? 'true' : 'false' }, value: 1 }] : [];
  });
  gaugeFrom('nokv_store_regions', 'regions this store hosts, by raft role', ['raft_role'], () => {
    const regions = v('nokv_store')?.regions as Array<{ role: string }> | undefined;
    if (!regions) return [];
    const by = new Map<string, number>();
    for (const r of regions) by.set(r.role, (by.get(r.role) ?? 0) + 1);
    return [...by].map(([role, n]) => ({ labels: { raft_role: role }, value: n }));
  });
  new Counter({
    name: 'nokv_fsmeta_ops_total',
    help: 'fsmeta executor operations, by operation',
    labelNames: ['op'],
    registers: [registry],
    collect() {
      const ops = v('nokv_fsmeta_executor')?.ops as Record<string, { calls: number }> | undefined;
      this.reset();
      for (const [op, o] of Object.entries(ops ?? {})) this.inc({ op }, o.calls);
    },
  });
}
