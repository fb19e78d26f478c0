// Owns the store's run-time fault control: `/debug/faults` on the metrics server, loopback clients only,
// wired to the FaultInjector of the store's raft transport (which filters both directions of a partition,
// see StoreNode). It exists only in a process started with NOKV_FAULTS set (`{"rules":[]}` = no faults yet),
// so a production store never carries it.
//
//   POST   /debug/faults   body: a FaultSpec ({"seed"?: n, "rules": [...]}) — replaces every rule
//   DELETE /debug/faults   heals: removes every rule (messages already delayed still arrive)
//   GET    /debug/faults   the rules in force and per-link counters
//   POST   /debug/faults/region-crash   body: {"region": id} — crashes that region's actor (its supervisor restarts it)
import type { ExpvarRegistry } from '../expvar/server.js';
import { parseFaultSpec, type FaultInjector } from '../transport/faults.js';

export const FAULTS_ROUTE_PATH = '/debug/faults';
export const REGION_CRASH_PATH = '/debug/faults/region-crash';

/** Registers the routes; the returned function removes them. `crashRegion` answers false for no such region. */
export function registerFaultRoutes(registry: ExpvarRegistry, faults: FaultInjector, crashRegion?: (regionId: number) => boolean): () => void {
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
    ...(crashRegion
      ? [
          registry.route({
            method: 'POST',
            path: REGION_CRASH_PATH,
            handle: (body) => {
              let region = NaN;
              try {
                region = Number((JSON.parse(body) as { region?: unknown } | null)?.region);
              } catch {
                // not JSON: refused below
              }
              if (!Number.isSafeInteger(region) || region <= 0) return { status: 400, body: { error: 'body must be {"region": id}' } };
              return crashRegion(region) ? { status: 200, body: { crashed: region } } : { status: 404, body: { error: `region ${region} is not running here` } };
            },
          }),
        ]
      : []),
  ];
  return () => removers.forEach((r) => r());
}
