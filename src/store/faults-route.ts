// Owns the store's run-time fault control: `/debug/faults` on the metrics server, loopback clients only,
// wired to the FaultInjector of the store's raft transport (which filters both directions of a partition,
// see StoreNode). It exists only in a process started with NOKV_FAULTS set (`{"rules":[]}` = no faults yet),
// so a production store never carries it.
//
//   POST   /debug/faults   body: a FaultSpec ({"seed"?: n, "rules": [...]}) — replaces every rule
//   DELETE /debug/faults   heals: removes every rule (messages already delayed still arrive)
//   GET    /debug/faults   the rules in force and per-link counters
//   POST   /debug/faults/region-crash   body: {"region": id} — crashes that region's actor (its supervisor restarts it)
//   POST   /debug/faults/shard-kill     body: {"shard": n} — terminates shard n's worker thread (--workers n or more)
//   POST   /debug/faults/transfer-leader body: {"region": id, "to": store} — the region's leader here hands
//          leadership to `to` (what a coordinator's hint does; chaos runs it on stores without coordinators)
import type { ExpvarRegistry } from '../expvar/server.js';
import { parseFaultSpec, type FaultInjector } from '../transport/faults.js';

export const FAULTS_ROUTE_PATH = '/debug/faults';
export const REGION_CRASH_PATH = '/debug/faults/region-crash';
export const SHARD_KILL_PATH = '/debug/faults/shard-kill';
export const TRANSFER_LEADER_PATH = '/debug/faults/transfer-leader';

/** Faults of the store's actors; each answers false for no such region or shard. */
export interface ActorFaults {
  crashRegion(regionId: number): boolean;
  killShard(shard: number): boolean;
  /** Starts a raft leader transfer; false when this store does not lead the region. */
  transferLeader?(regionId: number, to: number): boolean;
}

function idOf(body: string, field: string): number {
  try {
    const v = Number((JSON.parse(body) as Record<string, unknown> | null)?.[field]);
    return Number.isSafeInteger(v) && v > 0 ? v : NaN;
  } catch {
    return NaN;
  }
}

/** Registers the routes; the returned function removes them. */
export function registerFaultRoutes(registry: ExpvarRegistry, faults: FaultInjector, actors?: ActorFaults): () => void {
  const state = () => ({ rules: faults.rules(), links: faults.stats() });
  const removers = [
    registry.route({
      method: 'POST',
      path: FAULTS_ROUTE_PATH,
      handle: (body) => {
        faults.applySpec(parseFaultSpec(body));
        return { status: 200, body: state() };
      },
    }),
    registry.route({
      method: 'DELETE',
      path: FAULTS_ROUTE_PATH,
      handle: () => {
        faults.heal();
        return { status: 200, body: state() };
      },
    }),
    registry.route({ method: 'GET', path: FAULTS_ROUTE_PATH, handle: () => ({ status: 200, body: state() }) }),
    ...(actors
      ? [
          registry.route({
            method: 'POST',
            path: REGION_CRASH_PATH,
            handle: (body) => {
              const region = idOf(body, 'region');
              if (Number.isNaN(region)) return { status: 400, body: { error: 'body must be {"region": id}' } };
              return actors.crashRegion(region) ? { status: 200, body: { crashed: region } } : { status: 404, body: { error: `region ${region} is not running here` } };
            },
          }),
          registry.route({
            method: 'POST',
            path: SHARD_KILL_PATH,
            handle: (body) => {
              const shard = idOf(body, 'shard');
              if (Number.isNaN(shard)) return { status: 400, body: { error: 'body must be {"shard": n}' } };
              return actors.killShard(shard) ? { status: 200, body: { killed: shard } } : { status: 404, body: { error: `no shard ${shard} on a worker thread here` } };
            },
          }),
          registry.route({
            method: 'POST',
            path: TRANSFER_LEADER_PATH,
            handle: (body) => {
              const region = idOf(body, 'region');
              const to = idOf(body, 'to');
              if (Number.isNaN(region) || Number.isNaN(to)) return { status: 400, body: { error: 'body must be {"region": id, "to": store}' } };
              return actors.transferLeader?.(region, to) ? { status: 200, body: { region, to } } : { status: 404, body: { error: `region ${region} is not led here` } };
            },
          }),
        ]
      : []),
  ];
  return () => removers.forEach((r) => r());
}
