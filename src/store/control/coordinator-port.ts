// Owns the store's connection to the coordinators: rooted publishes through one failover client (any
// coordinator serves them; meta-root validates), the TSO timestamps a new region leader takes its one-phase
// commit floor from (floorTsoSource), and heartbeats to every coordinator, because each keeps its
// own runtime store registry and a standby must already know the leaders when it takes over routing.
import { NokvError } from '../../common/errors.js';
import type { RootEvent } from '../../metaroot/state/index.js';
import { CoordinatorClient } from '../../coordinator/client.js';
import type { ControlPlanePort, HeartbeatBody, HeartbeatOutcome, SchedulingHint } from './plane.js';

/** Budget of one publish (all failover attempts); the plane retries a failed publish on its next step. */
export const PUBLISH_BUDGET_MS = 3_000;
/** Budget of one heartbeat to one coordinator (below the heartbeat period). */
export const HEARTBEAT_BUDGET_MS = 800;

/** Budget of one leader-floor TSO call, failovers included; the wall-clock floor covers the wait. */
export const FLOOR_TSO_BUDGET_MS = 2_000;
/** One attempt of that call against one coordinator. */
export const FLOOR_TSO_ATTEMPT_MS = 1_000;

export interface CoordinatorPortOptions {
  coordinatorAddrs: string[];
  token?: string;
}

export function coordinatorPort(o: CoordinatorPortOptions): ControlPlanePort {
  const token = o.token ? { token: o.token } : {};
  const publisher = new CoordinatorClient({ endpoints: o.coordinatorAddrs, ...token, attemptDeadlineMs: PUBLISH_BUDGET_MS, callBudgetMs: PUBLISH_BUDGET_MS });
  const each = o.coordinatorAddrs.map(
    (addr) => new CoordinatorClient({ endpoints: [addr], ...token, attemptDeadlineMs: HEARTBEAT_BUDGET_MS, callBudgetMs: HEARTBEAT_BUDGET_MS }),
  );
  return {
    publish: async (ev: RootEvent) => {
      await publisher.publishRootEvent(ev);
    },
    allocId: async () => Number((await publisher.allocId(1)).first),
    listStores: async () =>
      (((await publisher.listStores(false)).stores ?? []) as Array<Record<string, unknown>>).map((s) => ({ store_id: Number(s.store_id), address: String(s.address ?? '') })),
    heartbeat: async (hb: HeartbeatBody): Promise<HeartbeatOutcome> => {
      const body = { ...hb, oldest_lock_ts: (hb.oldest_lock_ts ?? 0n).toString() };
      const replies = await Promise.allSettled(each.map((c) => c.storeHeartbeat(body)));
      const out: HeartbeatOutcome = { accepted: 0, notJoined: false, errors: [] };
      replies.forEach((r, i) => {
        if (r.status === 'fulfilled') {
          out.accepted++;
          const era = Number(r.value.era ?? 0);
          const sp = BigInt(r.value.gc_safe_point ?? 0);
          if (sp > (out.gcSafePoint ?? 0n)) out.gcSafePoint = sp;
          const hints = hintsOf(r.value.hints);
          if (hints.length > 0 && era >= (out.hintEra ?? 0)) {
            // Only the active coordinator sends hints; should two claim to, the higher era wins.
            out.hintEra = era;
            out.hints = hints;
          }
          return;
        }
        const err = r.reason;
        if (err instanceof NokvError && err.code === 'FAILED_PRECONDITION' && /has not joined/.test(err.message)) out.notJoined = true;
        out.errors.push(`${o.coordinatorAddrs[i]}: ${(err as Error)?.message ?? String(err)}`);
      });
      return out;
    },
    close: () => {
      publisher.close();
      for (const c of each) c.close();
    },
  };
}

/**
 * The data plane's TSO source for leader floors: one client for the store's life, so its era floor refuses a
 * reply from a coordinator older than one it has already heard from.
 */
export function floorTsoSource(o: CoordinatorPortOptions): { next: () => Promise<bigint>; close: () => void } {
  const client = new CoordinatorClient({
    endpoints: o.coordinatorAddrs,
    ...(o.token ? { token: o.token } : {}),
    attemptDeadlineMs: FLOOR_TSO_ATTEMPT_MS,
    callBudgetMs: FLOOR_TSO_BUDGET_MS,
  });
  return { next: async () => (await client.tso(1)).timestamp, close: () => client.close() };
}

/** The hints of one heartbeat reply, as plain numbers and buffers; a hint with no operation this store knows is skipped. */
export function hintsOf(raw: unknown): SchedulingHint[] {
  if (!Array.isArray(raw)) return [];
  const out: SchedulingHint[] = [];
  for (const h of raw as Array<Record<string, any>>) {
    const region = Number(h?.region_id ?? 0);
    if (!(region > 0)) continue;
    const base = { region_id: region, epoch_version: Number(h.epoch_version ?? 0), conf_version: Number(h.conf_version ?? 0) };
    const to = Number(h.transfer_leader?.to_store_id ?? 0);
    const add = Number(h.add_peer?.store_id ?? 0);
    const remove = Number(h.remove_peer?.store_id ?? 0);
    if (to > 0) out.push({ kind: 'transfer_leader', ...base, to_store_id: to });
    else if (add > 0) out.push({ kind: 'add_peer', ...base, store_id: add });
    else if (remove > 0) out.push({ kind: 'remove_peer', ...base, store_id: remove });
    else if (h.create_peer && Array.isArray(h.create_peer.peer_store_ids) && h.create_peer.peer_store_ids.length > 0) {
      const c = h.create_peer;
      out.push({ kind: 'create_peer', ...base, start: Buffer.from(c.start_key ?? []), end: Buffer.from(c.end_key ?? []), peers: c.peer_store_ids.map(Number) });
    }
  }
  return out;
}
