// Owns how `nokv cluster` shows a cluster to a person: the process table (with each role's state), the
// summary line (meta-root leader and term, lease holder and era, regions and their leaders) and the commands
// to try next, written so each works as printed from any folder.
import type { ClusterView } from './observe.js';
import type { ManagerStatus, ProcessStatus } from './manager.js';

export function processTable(processes: ProcessStatus[], view?: ClusterView): string {
  const states = new Map(view?.roles.map((r) => [r.name, r.state]));
  const rows = [['NAME', 'STATUS', 'PID', 'RESTARTS', 'ADDR', 'METRICS', 'ROLE STATE']];
  for (const p of processes) {
    rows.push([p.name, p.status, p.pid ? String(p.pid) : '-', String(p.restarts), p.addr, `http://${p.metrics_addr}/metrics`, p.status === 'running' ? (states.get(p.name) ?? '') : '']);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

/** `meta-root leader meta-root-1 (term 2) · lease coord-1 era 1 · 2 regions (1: store-1, 2: store-2)`. */
export function summaryLine(view: ClusterView | undefined): string {
  if (!view) return 'cluster state: not sampled yet\n';
  const leader = view.metaLeader ? `${view.metaLeader.name} (term ${view.metaLeader.term})` : 'none';
  const lease = view.lease?.holder ? `${view.lease.holder} era ${view.lease.era}${view.lease.handover !== 'none' ? ` (handover ${view.lease.handover})` : ''}` : 'none';
  const regions = view.regions.map((g) => `${g.id}: ${g.leader ?? 'no leader'}`).join(', ');
  const leaders = view.leadersPerStore.length > 0 ? ` · leaders per store ${view.leadersPerStore.map((l) => `${l.store}=${l.leaders}`).join(' ')}` : '';
  const transfers = view.pendingTransfers !== undefined ? ` · leader transfers in flight ${view.pendingTransfers}` : '';
  // A manager of an older build serves a view without these: say nothing rather than fail the status.
  const perStore = view.regionsPerStore ?? [];
  const hosted = perStore.length > 0 ? ` · regions per store ${perStore.map((r) => `${r.store}=${r.regions}`).join(' ')}` : '';
  const repair = view.repair
    ? ` · peer changes in flight ${view.repair.pending.length}${view.repair.pending.map((p) => ` (region ${p.region_id}: ${p.kind} store-${p.store_id})`).join('')}${view.repair.down.length > 0 ? ` · down stores ${view.repair.down.map((d) => `store-${d}`).join(' ')}` : ''}`
    : '';
  return `meta-root leader ${leader} · lease holder ${lease} · ${view.regions.length} regions${regions ? ` (${regions})` : ''}${leaders}${transfers}${hosted}${repair}\n`;
}

/**
 * The commands to try next. `nokv` is how the user can run the CLI from this folder (e.g. `node bin/nokv.mjs`)
 * and `selector` (e.g. ` --data-dir /x`) is what makes each command reach this cluster, so each works as printed.
 */
export function nextSteps(st: Pick<ManagerStatus, 'dashboard_url'>, nokv: string, selector: string): string {
  const lines = [
    st.dashboard_url ? `dashboard:  ${st.dashboard_url}` : undefined,
    `status:     ${nokv} cluster status${selector}`,
    `logs:       ${nokv} cluster logs -f${selector}`,
    `try:        ${nokv} tso${selector}  |  ${nokv} cluster stop coordinator-1${selector}`,
    `stop:       ${nokv} cluster down${selector}`,
  ];
  return lines.filter(Boolean).join('\n') + '\n';
}
