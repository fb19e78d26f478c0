// Owns how `nokv cluster add store` grows a running cluster's topology: the next store id, its two ports (given,
// or picked by the kernel on the host the other stores use), and the topology file rewritten with it, so the new
// store process, and any later restart of the cluster, start from a topology that names it. Joining the cluster
// is the store's own business (it publishes store_joined like any other); the coordinators then move replicas
// onto it and the other stores learn its address from the coordinators' store list.
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { InvalidArgumentError } from '../common/errors.js';
import { validateTopology, type StoreNode, type Topology } from '../config/topology.js';

export interface AddStoreRequest {
  /** host:port of its KV and raft service; default: a free port on the other stores' host. */
  addr?: string;
  metricsAddr?: string;
}

/** A port the kernel considers free on `host` right now (a store binding it later may still lose a race). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function hostOf(addr: string): string {
  const i = addr.lastIndexOf(':');
  if (i <= 0) throw new InvalidArgumentError(`not a host:port address: ${addr}`);
  return addr.slice(0, i);
}

/** The store to add (next id after the highest) and the validated topology with it; nothing written yet. */
export async function nextStore(topo: Topology, req: AddStoreRequest): Promise<{ store: StoreNode; topology: Topology }> {
  const host = hostOf(topo.stores[0]?.addr ?? '127.0.0.1:0');
  const store: StoreNode = {
    store_id: Math.max(0, ...topo.stores.map((s) => s.store_id)) + 1,
    addr: req.addr ?? `${host}:${await freePort(host)}`,
    metrics_addr: req.metricsAddr ?? `${host}:${await freePort(host)}`,
  };
  // validateTopology refuses an address another role of the topology already uses.
  return { store, topology: validateTopology({ ...topo, stores: [...topo.stores, store] }) };
}

export function writeTopology(file: string, topo: Topology): void {
  writeFileSync(file, JSON.stringify(topo, null, 2) + '\n');
}
