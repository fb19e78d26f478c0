// Owns `nokv config` (also `nokv-config`): read-only views of the rooted truth for people and scripts.
//   status     every replica: reachable, leader, term, commit and applied index
//   snapshot   tenure, legacy, handover, fences, stores, regions, mounts, quota fences
//   tail       committed events (retained ones, then with --follow as they commit)
// Endpoints come from src/cli/target.ts (--endpoints, NOKV_ENDPOINTS, or the meta-root peers of the cluster's
// topology); a cluster that does not answer is reported within seconds. --json prints machine-readable output
// (one document, or one JSON line per tail entry).
import type { Command } from '../cli/command.js';
import { UsageError, type FlagSpecs, type Parsed } from '../cli/flags.js';
import { requireReachable, resolveTarget, withWhere, type Target } from '../cli/target.js';
import { listMounts, listQuotaFences, listStores, regionsByStartKey, type Cursor, type RootState } from './state/index.js';
import { EVENT_KINDS, type RootEvent } from './state/events.js';
import { MetaRootClient, type WaitTailReply } from './client.js';

/** Per-call deadline of the config tool: it talks to people, so it gives up quickly. */
const CONFIG_DEADLINE_MS = 3_000;
/** Long-poll of `tail --follow`. */
const FOLLOW_POLL_MS = 1_000;

const common: FlagSpecs = {};

interface Reach {
  t: Target;
  endpoints: string[];
}

/** The meta-root endpoints of the cluster, once one of them accepts a connection. */
async function endpointsOf(args: Parsed): Promise<Reach> {
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
  const t = resolveTarget(args.flags);
  const endpoints = t.endpoints('meta-root');
  await requireReachable(t, 'meta-root', endpoints);
  return { t, endpoints };
}

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

function table(headers: string[], rows: Array<Array<string | number | boolean>>): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

const cur = (c: Cursor) => `${c.term}/${c.index}`;

async function withClient<T>({ t, endpoints }: Reach, fn: (c: MetaRootClient) => Promise<T>): Promise<T> {
  const client = new MetaRootClient({ endpoints, deadlineMs: CONFIG_DEADLINE_MS, attemptTimeoutMs: CONFIG_DEADLINE_MS });
  try {
    return await fn(client);
  } catch (err) {
    throw withWhere(err, t, 'meta-root', endpoints);
  } finally {
    client.close();
  }
}

async function statusCmd(args: Parsed): Promise<number> {
  const reach = await endpointsOf(args);
  const peers = await withClient(reach, (c) =>
    Promise.all(
      reach.endpoints.map(async (addr) => {
        try {
          const s = await c.status({ endpoint: addr, deadlineMs: CONFIG_DEADLINE_MS });
          return {
            addr,
            reachable: true,
            node_id: s.view.node_id,
            is_leader: s.view.is_leader,
            leader_id: s.view.leader_id,
            term: s.view.raft_term,
            commit_index: s.view.commit_index,
            applied_index: s.view.applied_index,
            applied_cursor: s.view.applied_cursor,
          };
        } catch (err) {
          return { addr, reachable: false, error: (err as Error).message };
        }
      }),
    ),
  );
  if (args.flags.json) out(JSON.stringify({ peers }, null, 2));
  else {
    out(table(
      ['ADDR', 'NODE', 'REACHABLE', 'LEADER', 'LEADER_ID', 'TERM', 'COMMIT', 'APPLIED'],
      peers.map((p): Array<string | number> => 'node_id' in p && p.node_id !== undefined
        ? [p.addr, p.node_id, 'yes', p.is_leader ? '*' : '', p.leader_id, p.term, p.commit_index, p.applied_index]
        : [p.addr, '-', `no (${'error' in p ? p.error : ''})`, '', '', '', '', '']),
    ));
  }
  return peers.some((p) => p.reachable) ? 0 : 1;
}

function snapshotDoc(state: RootState, served: { cursor: Cursor; node_id: number; follower_view: boolean }) {
  return {
    served_by: served.node_id,
    follower_view: served.follower_view,
    cursor: served.cursor,
    cluster_epoch: state.cluster_epoch,
    membership_epoch: state.membership_epoch,
    tenure: state.tenure,
    legacy: state.legacy,
    handover: state.handover,
    id_fence: state.id_fence,
    tso_fence: state.tso_fence,
    stores: listStores(state, { includeRetired: true }),
    regions: regionsByStartKey(state),
    pending_peer_changes: Object.values(state.pending_peer_changes),
    pending_range_changes: Object.values(state.pending_range_changes),
    mounts: listMounts(state, { includeRetired: true }),
    subtrees: Object.values(state.subtrees),
    snapshot_epochs: Object.values(state.snapshot_epochs),
    quota_fences: listQuotaFences(state),
  };
}

async function snapshotCmd(args: Parsed): Promise<number> {
  const snap = await withClient(await endpointsOf(args), (c) => c.snapshot({ linearizable: Boolean(args.flags.linearizable) }));
  const doc = snapshotDoc(snap.state, { cursor: snap.cursor, node_id: snap.view.node_id, follower_view: snap.follower_view });
  if (args.flags.json) {
    out(JSON.stringify(doc, null, 2));
    return 0;
  }
  const t = doc.tenure;
  const lines = [
    `served by node ${doc.served_by}${doc.follower_view ? ' (follower view)' : ' (leader)'} at ${cur(doc.cursor)}`,
    `cluster_epoch ${doc.cluster_epoch}  membership_epoch ${doc.membership_epoch}  id_fence ${doc.id_fence}  tso_fence ${doc.tso_fence}`,
    `tenure   ${t.holder_id || '(none)'} era ${t.era} expires ${t.expires_unix_ms ? new Date(t.expires_unix_ms).toISOString() : '-'} mandate ${t.mandate}`,
    `legacy   ${doc.legacy ? `${doc.legacy.holder_id} era ${doc.legacy.era} sealed at ${cur(doc.legacy.sealed_at)}` : '(none)'}`,
    `handover ${doc.handover ? `${doc.handover.holder_id} ${doc.handover.legacy_era}->${doc.handover.successor_era} ${doc.handover.stage}` : '(none)'}`,
    '',
    'stores:',
    table(['ID', 'ADDRESS', 'STATE'], doc.stores.map((s) => [s.store_id, s.address, s.state])),
    '',
    'regions:',
    table(['ID', 'START', 'END', 'EPOCH', 'PEERS', 'STATE'], doc.regions.map((r) => [
      r.region_id, r.start_key || '-', r.end_key || '+inf', `${r.epoch.version}/${r.epoch.conf_version}`,
      r.peers.map((p) => `${p.store_id}:${p.peer_id}`).join(','), r.state,
    ])),
    '',
    'mounts:',
    table(['MOUNT', 'ROOT_INODE', 'SCHEMA', 'STATE'], doc.mounts.map((m) => [m.mount_id, m.root_inode, m.schema_version, m.state])),
    '',
    'quota fences:',
    table(['SUBJECT', 'LIMIT_BYTES', 'LIMIT_INODES', 'ERA'], doc.quota_fences.map((q) => [q.subject, q.limit_bytes, q.limit_inodes, q.era])),
  ];
  out(lines.join('\n'));
  return 0;
}

/**
 * Which tail events to show: only `kinds` when given, and lease renewals (a tenure event for the same holder
 * and era as the tenure before it: only its expiry moved) only when asked, since they are most of the log.
 */
export class TailFilter {
  private tenure?: { holder: string; era: number };

  constructor(
    private readonly kinds: ReadonlySet<string> | undefined,
    private readonly renewals: boolean,
  ) {}

  keep(ev: RootEvent): boolean {
    let renewal = false;
    if (ev.kind === 'tenure') {
      renewal = this.tenure?.holder === ev.holder_id && this.tenure.era === ev.era;
      this.tenure = { holder: ev.holder_id, era: ev.era };
    }
    if (renewal && !this.renewals) return false;
    return this.kinds === undefined || this.kinds.has(ev.kind);
  }
}

/** --kind a,b checked against the event kinds rooted state knows. */
function kindsOf(list: string[] | undefined): ReadonlySet<string> | undefined {
  if (!list || list.length === 0) return undefined;
  const known = new Set<string>(EVENT_KINDS);
  for (const k of list) if (!known.has(k)) throw new UsageError(`--kind: unknown event kind "${k}" (one of ${[...known].sort().join(', ')})`);
  return new Set(list);
}

function printTail(page: WaitTailReply, json: boolean, filter: TailFilter): void {
  for (const e of page.entries) {
    const events = (e.events as RootEvent[]).filter((ev) => filter.keep(ev));
    if (events.length === 0) continue;
    if (json) out(JSON.stringify({ cursor: e.cursor, events }));
    else for (const ev of events) out(`${cur(e.cursor)}  ${ev.kind}  ${JSON.stringify(ev)}`);
  }
}

async function tailCmd(args: Parsed): Promise<number> {
  const reach = await endpointsOf(args);
  const json = Boolean(args.flags.json);
  const filter = new TailFilter(kindsOf(args.flags.kind as string[] | undefined), Boolean(args.flags.renewals));
  const follow = Boolean(args.flags.follow);
  const forMs = args.flags.for as number | undefined;
  const until = forMs === undefined ? Infinity : Date.now() + forMs;
  let stopped = false;
  const onSignal = () => { stopped = true; };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await withClient(reach, async (c) => {
      let after: Cursor = { term: 0, index: Number(args.flags.after ?? 0) };
      for (;;) {
        const timeoutMs = follow ? Math.max(0, Math.min(FOLLOW_POLL_MS, until - Date.now())) : 0;
        let page = await c.waitTail({ after, timeoutMs });
        if (page.snapshot_required) {
          if (!json) out(`(events up to ${cur(page.oldest)} are no longer retained; starting there)`);
          after = page.oldest;
          page = await c.waitTail({ after, timeoutMs: 0 });
        }
        printTail(page, json, filter);
        after = page.cursor;
        if (!follow || stopped || Date.now() >= until) return 0;
      }
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export const configCommand: Command = {
  name: 'config',
  summary: 'query the rooted truth held by meta-root (status, snapshot, tail)',
  subcommands: [
    { name: 'status', summary: 'each meta-root replica: reachable, leader, term, commit, applied', flags: common, run: statusCmd },
    {
      name: 'snapshot',
      summary: 'tenure, legacy, handover, fences, stores, regions, mounts, quota fences',
      flags: { ...common, linearizable: { type: 'bool', help: 'confirm with the leader first (sees every acknowledged write)' } },
      run: snapshotCmd,
    },
    {
      name: 'tail',
      summary: 'committed rooted events; --follow keeps printing them as they commit',
      flags: {
        ...common,
        follow: { type: 'bool', help: 'keep following until interrupted' },
        after: { type: 'int', help: 'start after this raft index (default: the oldest retained)', min: 0 },
        for: { type: 'duration', help: 'with --follow: stop after this long (e.g. 5s)', min: 0 },
        kind: { type: 'list', help: 'only these event kinds, comma separated (e.g. tenure,handover,legacy)' },
        renewals: { type: 'bool', help: 'also show lease renewals (tenure events that only extend the expiry; hidden by default)' },
      },
      run: tailCmd,
    },
  ],
};
