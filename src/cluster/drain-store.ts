// Owns draining a store before it leaves the cluster (`nokv cluster remove store-N`): `store_draining` is rooted
// through the coordinators, the active coordinator then moves every peer of the store to other stores (replica
// repair treats a draining store's peers like a dead one's, while the store keeps serving them until each is
// replaced), and once rooted truth shows no region with a peer there and no open change involving it,
// `store_retired` is rooted. Only then may its process stop: nothing it held is lost.
import type { Logger } from '../common/log.js';
import { TimeoutError } from '../common/errors.js';
import { CoordinatorClient } from '../coordinator/client.js';
import { MetaRootClient } from '../metaroot/client.js';
import { events, type RootState } from '../metaroot/state/index.js';

/** How often rooted truth is read while a store drains. */
export const DRAIN_POLL_MS = 500;

export interface DrainOptions {
  storeId: number;
  coordinatorAddrs: string[];
  rootAddrs: string[];
  token?: string;
  /** Give up (the store stays draining, nothing is retired) after this long. */
  timeoutMs: number;
  logger: Logger;
}

/** Rooted peers still on the store, counting open peer changes that involve it. */
export function peersLeft(s: RootState, storeId: number): number {
  let n = 0;
  for (const r of Object.values(s.regions)) if (r.peers.some((p) => p.store_id === storeId)) n++;
  for (const p of Object.values(s.pending_peer_changes)) if (p.peer.store_id === storeId || p.base.peers.some((q) => q.store_id === storeId)) n++;
  return n;
}

/** Drains and retires the store; resolves with how long the drain took. */
export async function drainStore(o: DrainOptions): Promise<{ drainedMs: number }> {
  const token = o.token ? { token: o.token } : {};
  const coord = new CoordinatorClient({ endpoints: o.coordinatorAddrs, ...token });
  const root = new MetaRootClient({ endpoints: o.rootAddrs, ...token });
  const t0 = Date.now();
  try {
    await coord.publishRootEvent(events.storeDraining(o.storeId));
    o.logger.info({ store: o.storeId }, 'store draining: its peers move to other stores');
    for (;;) {
      const left = peersLeft((await root.snapshot({ linearizable: true })).state, o.storeId);
      if (left === 0) break;
      if (Date.now() - t0 > o.timeoutMs) {
        throw new TimeoutError(`store ${o.storeId} still holds ${left} peer(s) after ${o.timeoutMs} ms; it stays draining (run the command again to wait more)`);
      }
      await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
    }
    await coord.publishRootEvent(events.storeRetired(o.storeId));
    o.logger.info({ store: o.storeId, ms: Date.now() - t0 }, 'store drained and retired');
    return { drainedMs: Date.now() - t0 };
  } finally {
    coord.close();
    root.close();
  }
}
