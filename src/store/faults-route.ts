// Owns the store's run-time fault control: `/debug/faults` on the metrics server, loopback clients only,
// wired to the FaultInjector of the store's raft transport (which filters both directions of a partition,
// see StoreNode). It exists only in a process started with NOKV_FAULTS set (`{"rules":[]}` = no faults yet),
// so a production store never carries it.
//
//   POST   /debug/faults   body: a FaultSpec ({"seed"?: n, "rules": [...]}) — replaces every rule
//   DELETE /debug/faults   heals: removes every rule (messages already delayed still arrive)
//   GET    /debug/faults   the rules in force and per-link counters
import type { ExpvarRegistry } from '../expvar/server.js';
import { parseFaultSpec, type FaultInjector } from '../transport/faults.js';

export const FAULTS_ROUTE_PATH = '/debug/faults';

/** Registers the three routes; the returned function removes them. */
export function registerFaultRoutes(registry: ExpvarRegistry, faults: FaultInjector): () => void {
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
  ];
  return () => removers.forEach((r) => r());
}
