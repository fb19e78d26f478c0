// Owns the gRPC front of a coordinator: nokv.coordinator.v1.Coordinator handlers mapped onto the lease holder
// actor (duties, the lease), the catalog actor (routing, stores), the rooted view actor (mounts, quotas,
// authorities) and meta-root appends. The front holds no state of its own and reads none of theirs: each
// answer comes from asks. A call runs inside its trace (x-nokv-trace / traceparent), which the asks carry on,
// so the front's log line and the actors' lines of one request share a trace id.
import { idsAllocated, tsoIssued } from '../common/metrics.js';
import type * as grpc from '@grpc/grpc-js';
import type { Clock } from '../common/clock.js';
import { FailedPreconditionError, InvalidArgumentError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import {
  AUTHORITY_EVENT_KINDS,
  checkEventShape,
  events,
  keyBytes,
  subtreeId,
  type MountRecord,
  type QuotaFence,
  type RegionDescriptor,
  type RootEvent,
  type RootState,
  type SubtreeAuthority,
} from '../metaroot/state/index.js';
import { loadProto, traceOf, u64ToNumber, unaryHandler, type LoadedProto } from '../transport/index.js';
import { actorTrace, type TraceContext } from '../actors/index.js';
import { MAX_BATCH } from './allocator.js';
import { mountsOf, quotasOf, type LeaderClaim, type RegionLeader } from './catalog.js';
import type { CatalogHandle } from './catalog-actor.js';
import type { PeerHint } from './repair.js';
import { DEFAULT_GC_LIFETIME_MS } from './gc-safe-point.js';
import type { LeaseHolder } from './holder.js';
import type { RootPort } from './root-port.js';
import type { RootViewHandle } from './root-view.js';
import { eventFromMsg } from '../metaroot/event-wire.js';

export const COORDINATOR_PROTO = 'nokv/coordinator/v1/coordinator.proto';
export const COORDINATOR_SERVICE = 'nokv.coordinator.v1.Coordinator';

export function coordinatorProto(): LoadedProto {
  return loadProto(COORDINATOR_PROTO);
}

export interface ServiceDeps {
  selfId: string;
  holder: LeaseHolder;
  view: Pick<RootViewHandle, 'get' | 'waitFor'>;
  root: RootPort;
  catalog: Pick<CatalogHandle, 'heartbeat' | 'route' | 'store' | 'stores' | 'schedule' | 'gcSafePoint'>;
  clock: Clock;
  logger: Logger;
  /** How far the MVCC GC safe point stays behind now (default DEFAULT_GC_LIFETIME_MS). */
  gcLifetimeMs?: number;
}

type Req = Record<string, any>;

/** A GC safe point computed this recently is reused for the next heartbeat replies. */
export const GC_SAFE_POINT_REUSE_MS = 500;

/** Most leader claims one heartbeat may carry (bounds the registry against a misbehaving caller). */
export const MAX_LEADER_CLAIMS = 100_000;

function countOf(raw: unknown): number {
  const n = raw === undefined || raw === null ? 0 : Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > MAX_BATCH) throw new InvalidArgumentError(`count must be 0..${MAX_BATCH}, got ${String(raw)}`);
  return n === 0 ? 1 : n;
}

function regionMsg(r: RegionDescriptor, leader: RegionLeader | null) {
  return {
    region_id: r.region_id,
    start_key: Buffer.from(keyBytes(r.start_key)),
    end_key: Buffer.from(keyBytes(r.end_key)),
    epoch_version: r.epoch.version,
    conf_version: r.epoch.conf_version,
    peers: r.peers.map((p) => ({ store_id: p.store_id, peer_id: p.peer_id })),
    root_epoch: r.root_epoch,
    state: r.state,
    leader_store_id: leader?.store_id ?? 0,
    leader_addr: leader?.addr ?? '',
    leader_term: leader?.term ?? 0,
  };
}

function peerHintMsg(h: PeerHint) {
  const base = { region_id: h.region_id, epoch_version: h.epoch_version, conf_version: h.conf_version };
  switch (h.kind) {
    case 'add_peer':
      return { ...base, add_peer: { store_id: h.store_id } };
    case 'remove_peer':
      return { ...base, remove_peer: { store_id: h.store_id } };
    case 'create_peer':
      return { ...base, create_peer: { start_key: Buffer.from(h.start_key), end_key: Buffer.from(h.end_key), peer_store_ids: h.peers } };
  }
}

const mountMsg = (m: MountRecord) => ({ mount_id: m.mount_id, root_inode: m.root_inode, schema_version: m.schema_version, state: m.state });
const subtreeMsg = (a: SubtreeAuthority) => ({
  subtree_id: a.subtree_id,
  mount_id: a.mount_id,
  root_inode: a.root_inode,
  authority_id: a.authority_id,
  era: a.era,
  frontier: a.frontier,
  handoff: a.handoff ? { from_authority: a.handoff.from_authority, to_authority: a.handoff.to_authority, era: a.handoff.era } : null,
});
const quotaMsg = (q: QuotaFence) => ({ subject: q.subject, limit_bytes: q.limit_bytes, limit_inodes: q.limit_inodes, era: q.era });

export function coordinatorHandlers(d: ServiceDeps): grpc.UntypedServiceImplementation {
  const state = async (): Promise<RootState> => {
    const s = (await d.view.get()).state;
    if (!s) throw new FailedPreconditionError('rooted view not loaded yet');
    return s;
  };
  /** Appends through meta-root, then waits until this coordinator's view includes the write; its state then. */
  const write = async (evs: RootEvent[]) => {
    const out = await d.root.append(evs);
    if (!out.accepted) throw out.error ?? new FailedPreconditionError('meta-root refused the events');
    const after = (await d.view.waitFor(out.cursor.index)).state;
    if (!after) throw new FailedPreconditionError('rooted view not loaded yet');
    return { out, after };
  };
  const h = <T>(fn: (req: Req, call: grpc.ServerUnaryCall<Req, T>) => Promise<T> | T) => unaryHandler<Req, T>(fn, { logger: d.logger });
  /**
   * The MVCC GC safe point for a heartbeat reply (active coordinator only): computed from a fresh TSO timestamp
   * at most every GC_SAFE_POINT_REUSE_MS (three stores beat each second); 0n when it cannot be computed now,
   * which a store ignores (it keeps the highest point it was told).
   */
  let gcCache = { atMs: -Infinity, sp: 0n };
  const safePointNow = async (): Promise<bigint> => {
    const nowMs = d.clock.now();
    if (nowMs - gcCache.atMs < GC_SAFE_POINT_REUSE_MS) return gcCache.sp;
    try {
      const { first } = await d.holder.allocate('tso', 1);
      const sp = await d.catalog.gcSafePoint(first, d.gcLifetimeMs ?? DEFAULT_GC_LIFETIME_MS, nowMs);
      gcCache = { atMs: nowMs, sp };
      return sp;
    } catch (err) {
      d.logger.debug({ err }, 'no GC safe point for this heartbeat');
      return 0n;
    }
  };
  /**
   * Appends one replica-repair event on its own (a batch would fail whole on one refusal). Meta-root refuses a
   * plan against a region that moved on or already has an open change, so a duplicate or a plan of a deposed
   * coordinator is harmless; the planner tries again after REPAIR_APPEND_RETRY_MS.
   */
  const appendRepair = async (ev: RootEvent): Promise<void> => {
    try {
      const out = await d.root.append([ev]);
      if (out.accepted) d.logger.info({ event: ev }, 'replica repair: rooted');
      else d.logger.info({ event: ev, why: out.error?.message }, 'replica repair: meta-root refused');
    } catch (err) {
      d.logger.warn({ err, event: ev.kind }, 'replica repair: append failed');
    }
  };
  /** The trace a call hands to the holder actor; logged here so the request can be followed into the actor. */
  const traced = (rpc: string, call: grpc.ServerUnaryCall<Req, unknown>): TraceContext | undefined => {
    const trace = actorTrace(traceOf(call), `grpc:${rpc}`);
    if (trace) d.logger.debug({ rpc, trace: trace.traceId, span: trace.spanId }, 'duty call');
    return trace;
  };

  return {
    Tso: h(async (req, call) => {
      const count = countOf(req.count);
      const { first, era } = await d.holder.allocate('tso', count, traced('Tso', call));
      tsoIssued.inc(count);
      return { timestamp: first.toString(), count, era, served_by: d.selfId };
    }),
    AllocID: h(async (req, call) => {
      const count = countOf(req.count);
      const { first, era } = await d.holder.allocate('id', count, traced('AllocID', call));
      idsAllocated.inc(count);
      return { first_id: first.toString(), count, era, served_by: d.selfId };
    }),
    GetRegionByKey: h(async (req) => {
      const era = await d.holder.servingEra(); // a standby refuses before anything else
      const [route, view] = await Promise.all([d.catalog.route(req.key ?? Buffer.alloc(0)), d.view.get()]);
      return {
        region: route.region ? regionMsg(route.region, route.leader) : null,
        found: route.region !== null,
        era,
        root_index: route.root_index,
        root_lag_ms: view.lagMs,
        served_by: d.selfId,
      };
    }),

    StoreHeartbeat: h(async (req) => {
      const ids = (req.leader_region_ids ?? []).map((v: string) => u64ToNumber(v));
      const claims: LeaderClaim[] = (req.leader_claims ?? []).map((c: Req) => ({
        region_id: u64ToNumber(c.region_id),
        term: u64ToNumber(c.term ?? 0),
        epoch_version: u64ToNumber(c.epoch_version ?? 0),
        conf_version: u64ToNumber(c.conf_version ?? 0),
      }));
      if (claims.length > MAX_LEADER_CLAIMS) throw new InvalidArgumentError(`at most ${MAX_LEADER_CLAIMS} leader claims per heartbeat`);
      const storeId = u64ToNumber(req.store_id);
      await d.catalog.heartbeat(
        {
          store_id: storeId,
          client_addr: String(req.client_addr ?? ''),
          region_count: u64ToNumber(req.region_count ?? 0),
          leader_count: u64ToNumber(req.leader_count ?? 0),
          capacity_bytes: u64ToNumber(req.capacity_bytes ?? 0),
          available_bytes: u64ToNumber(req.available_bytes ?? 0),
          leader_region_ids: ids,
          leader_claims: claims,
          oldest_lock_ts: BigInt(req.oldest_lock_ts ?? 0),
        },
        d.clock.now(),
      );
      const st = await d.holder.status();
      const t = st.tenure;
      // Only the coordinator serving the live era schedules; a standby's reply carries no hints.
      const plan = st.serving ? await d.catalog.schedule(storeId, d.clock.now()) : { transfers: [], peers: [], append: [] };
      for (const ev of plan.append) void appendRepair(ev);
      const hints = [
        ...plan.transfers.map((op) => ({
          region_id: op.region_id,
          epoch_version: op.epoch_version,
          conf_version: op.conf_version,
          transfer_leader: { to_store_id: op.to_store },
        })),
        ...plan.peers.map(peerHintMsg),
      ];
      const gcSafePoint = st.serving ? await safePointNow() : 0n;
      return { accepted: true, holder_id: t.holder_id, era: t.era, hints, gc_safe_point: gcSafePoint.toString() };
    }),
    GetStore: h(async (req) => {
      const info = await d.catalog.store(u64ToNumber(req.store_id), d.clock.now());
      return info ? { store: info, not_found: false } : { store: null, not_found: true };
    }),
    ListStores: h(async (req) => ({ stores: await d.catalog.stores(Boolean(req.include_retired), d.clock.now()) })),

    RegisterMount: h(async (req) => {
      const id = String(req.mount_id ?? '');
      // 64-bit fields arrive as decimal strings, so "0" (the documented "means 1") is not falsy.
      const rootInode = u64ToNumber(req.root_inode ?? 0) || 1;
      const schema = u64ToNumber(req.schema_version ?? 0) || 1;
      const cur = (await state()).mounts[id];
      if (cur && cur.state === 'registered' && cur.root_inode === rootInode && cur.schema_version === schema) {
        return { mount: mountMsg(cur), created: false };
      }
      const { after } = await write([events.mountRegistered(id, rootInode, schema)]);
      return { mount: mountMsg(after.mounts[id]!), created: !cur };
    }),
    RetireMount: h(async (req) => {
      const id = String(req.mount_id ?? '');
      const { after } = await write([events.mountRetired(id)]);
      return { mount: mountMsg(after.mounts[id]!) };
    }),
    GetMount: h(async (req) => {
      const m = (await state()).mounts[String(req.mount_id ?? '')];
      return m ? { mount: mountMsg(m), not_found: false } : { mount: null, not_found: true };
    }),
    ListMounts: h(async (req) => ({ mounts: mountsOf(await state(), Boolean(req.include_retired)).map(mountMsg) })),
    SetQuotaFence: h(async (req) => {
      const subject = String(req.subject ?? '');
      const cur = (await state()).quotas[subject];
      const era = u64ToNumber(req.era || 0) || (cur?.era ?? 0) + 1;
      const { after } = await write([events.quotaFenceUpdated(subject, u64ToNumber(req.limit_bytes || 0), u64ToNumber(req.limit_inodes || 0), era)]);
      return { fence: quotaMsg(after.quotas[subject]!) };
    }),
    GetQuotaFence: h(async (req) => {
      const q = (await state()).quotas[String(req.subject ?? '')];
      return q ? { fence: quotaMsg(q), not_found: false } : { fence: null, not_found: true };
    }),
    ListQuotaFences: h(async () => ({ fences: quotasOf(await state()).map(quotaMsg) })),
    PublishRootEvent: h(async (req) => {
      const ev: unknown = eventFromMsg(req.event);
      checkEventShape(ev);
      if (AUTHORITY_EVENT_KINDS.has(ev.kind)) throw new InvalidArgumentError(`${ev.kind} events are written only by Eunomia commands`);
      const expected = u64ToNumber(req.expected_cluster_epoch || 0);
      const epoch = (await state()).cluster_epoch;
      if (expected !== 0 && epoch !== expected) {
        throw new FailedPreconditionError(`cluster epoch mismatch: expected ${expected}, rooted ${epoch}`);
      }
      const { out, after } = await write([ev]);
      return { accepted: true, root_index: out.cursor.index, cluster_epoch: after.cluster_epoch };
    }),
    GetSubtreeAuthority: h(async (req) => {
      const s = await state();
      const mountId = String(req.mount_id ?? '');
      const rootInode = u64ToNumber(req.root_inode || 0) || s.mounts[mountId]?.root_inode || 1;
      const a = s.subtrees[subtreeId(mountId, rootInode)];
      return a ? { authority: subtreeMsg(a), not_found: false } : { authority: null, not_found: true };
    }),
    ListSubtreeAuthorities: h(async () => ({
      authorities: Object.values((await state()).subtrees)
        .sort((a, b) => a.subtree_id.localeCompare(b.subtree_id))
        .map(subtreeMsg),
    })),

    GetLease: h(async () => {
      const st = await d.holder.status();
      const t = st.tenure;
      const now = d.clock.now();
      return {
        coordinator_id: d.selfId,
        holder_id: t.holder_id,
        era: t.era,
        expires_unix_ms: t.expires_unix_ms,
        held_by_self: st.serving,
        active: t.holder_id !== '' && t.expires_unix_ms > now && !t.sealed,
        sealed: t.sealed,
      };
    }),
    Handover: h(async (req, call) => {
      const to = String(req.to ?? '');
      if (!to) throw new InvalidArgumentError('handover needs a target coordinator id');
      const r = await d.holder.handover(to, traced('Handover', call));
      return { from: d.selfId, legacy_era: r.legacyEra, to, successor_era: r.successorEra, stage: r.stage };
    }),
    TakeOver: h(async (req, call) => {
      const r = await d.holder.takeOver(u64ToNumber(req.legacy_era), traced('TakeOver', call));
      d.logger.info({ from: req.from, era: r.era, stage: r.stage }, 'took over a sealed era');
      return { era: r.era, stage: r.stage };
    }),
  };
}

