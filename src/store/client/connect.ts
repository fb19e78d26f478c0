// Owns the store client a cluster user needs only coordinator addresses for: routing through the coordinator's
// GetRegionByKey (the rooted descriptor plus the leader from the freshest heartbeat claim), store addresses
// through GetStore, and timestamps from the coordinator's TSO. Both lookups are cached by the StoreClient
// (routes until a region error drops them, addresses for the life of the client).
import { CoordinatorClient } from '../../coordinator/client.js';
import { StoreClient, type LocatedRegion } from './client.js';
import { coordinatorTso } from './tso.js';

export interface ConnectStoreClientOptions {
  /** Coordinator client addresses (any order; the client finds the holder). */
  coordinatorAddrs: string[];
  /** Cluster token for store mutations that require one. */
  token?: string;
  lockTtlMs?: number;
  /** Share an existing coordinator client instead of opening one (it is then not closed with this client). */
  coordinator?: CoordinatorClient;
  /** Calls to stores and coordinators go on one CallStream each (default true; false: a unary call each). */
  callStream?: boolean;
}

/** A StoreClient wired to the coordinators; close() also closes the coordinator client it opened. */
export class CoordinatedStoreClient extends StoreClient {
  constructor(
    readonly coordinator: CoordinatorClient,
    private readonly ownsCoordinator: boolean,
    opts: ConstructorParameters<typeof StoreClient>[0],
  ) {
    super(opts);
  }

  override close(): void {
    super.close();
    if (this.ownsCoordinator) this.coordinator.close();
  }
}

/** Rooted region for `key` from the coordinator holder, with its leader's address remembered in `stores`. */
export async function locateThrough(coord: CoordinatorClient, stores: Map<number, string>, key: Buffer): Promise<LocatedRegion | undefined> {
  const r = await coord.getRegionByKey(key);
  if (!r.found || !r.region) return undefined;
  const w = r.region;
  const leader = Number(w.leader_store_id ?? 0);
  if (leader && w.leader_addr && !stores.has(leader)) stores.set(leader, String(w.leader_addr));
  return {
    id: Number(w.region_id),
    start: Buffer.from(w.start_key ?? []),
    end: Buffer.from(w.end_key ?? []),
    epoch: { version: Number(w.epoch_version), confVersion: Number(w.conf_version) },
    peers: (w.peers ?? []).map((p: { store_id: string }) => Number(p.store_id)),
    ...(leader ? { leaderStoreId: leader } : {}),
  };
}

/** The client address of a store as the coordinators know it (heartbeat, else its rooted join record). */
export async function storeAddrThrough(coord: CoordinatorClient, storeId: number): Promise<string | undefined> {
  const r = await coord.getStore(storeId);
  return r.not_found || !r.store?.address ? undefined : String(r.store.address);
}

export function connectStoreClient(o: ConnectStoreClientOptions): CoordinatedStoreClient {
  const coord = o.coordinator ?? new CoordinatorClient({ endpoints: o.coordinatorAddrs, ...(o.token ? { token: o.token } : {}), ...(o.callStream !== undefined ? { callStream: o.callStream } : {}) });
  const stores = new Map<number, string>();
  return new CoordinatedStoreClient(coord, !o.coordinator, {
    stores,
    tso: coordinatorTso(coord),
    ...(o.token ? { token: o.token } : {}),
    ...(o.lockTtlMs ? { lockTtlMs: o.lockTtlMs } : {}),
    ...(o.callStream !== undefined ? { callStream: o.callStream } : {}),
    locate: (key) => locateThrough(coord, stores, key),
    resolveStore: (id) => storeAddrThrough(coord, id),
  });
}
