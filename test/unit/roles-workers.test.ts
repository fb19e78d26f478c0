// --workers N|auto and the topology's per-role workers: what each role process ends up with.
import { expect } from 'chai';
import { UsageError } from '../../src/cli/flags.js';
import { defaultTopology, resolveTopology } from '../../src/config/topology.js';
import { autoWorkers, workersOf } from '../../src/roles/flags.js';

describe('roles: worker threads per process (--workers N|auto, topology workers.<role>)', () => {
  it('auto gives each process of the role its share of the cores left after one per process', () => {
    expect(autoWorkers(2, 10, 3), '333 topology on two cores').to.equal(0);
    expect(autoWorkers(16, 10, 3), '333 topology on sixteen cores').to.equal(2);
    expect(autoWorkers(8, 1, 1), 'a lone store on eight cores').to.equal(7);
    expect(autoWorkers(64, 1, 1), 'capped by the runtime limit').to.be.at.most(16);
  });

  it('counts the topology processes on the process host for auto', () => {
    const topo = defaultTopology();
    const where = { topology: topo, role: 'store' as const, addr: topo.stores[0]!.addr };
    expect(workersOf('auto', { ...where, cores: 2 })).to.equal(0);
    expect(workersOf('auto', { ...where, cores: 16 })).to.equal(2);
    // A store alone on its host (the others elsewhere) gets every spare core of it.
    expect(workersOf('auto', { ...where, addr: '10.0.0.9:20170', cores: 4 })).to.equal(3);
  });

  it('caps auto at what the role can place on worker threads', () => {
    const topo = defaultTopology();
    const lone = (role: 'meta_root' | 'coordinator' | 'store' | 'fsmeta') => workersOf('auto', { topology: topo, role, addr: '10.0.0.9:1', cores: 16 });
    expect(lone('store'), 'a store: one shard per spare core').to.equal(15);
    expect(lone('meta_root'), 'a meta-root: its raft peer on thread 1').to.equal(1);
    expect(lone('coordinator'), 'a coordinator: its lease holder on thread 1').to.equal(1);
    expect(lone('fsmeta'), 'the gateway: its watch sessions on thread 1').to.equal(1);
    expect(workersOf('auto', { topology: topo, role: 'fsmeta', addr: topo.fsmeta[0]!.addr, cores: 2 }), 'the gateway of 333 on two cores').to.equal(0);
    expect(workersOf('auto', { topology: topo, role: 'meta_root', addr: topo.meta_root.peers[0]!.addr, cores: 2 }), '333 on two cores').to.equal(0);
    expect(workersOf('3', { topology: topo, role: 'fsmeta', addr: topo.fsmeta[0]!.addr }), 'an explicit count is taken as given').to.equal(3);
  });

  it('takes the flag over the topology, the topology over the default of 0', () => {
    const topo = resolveTopology({ workers: { store: 2, coordinator: 'auto' } });
    expect(workersOf(undefined, { topology: topo, role: 'store', addr: topo.stores[0]!.addr })).to.equal(2);
    expect(workersOf('1', { topology: topo, role: 'store', addr: topo.stores[0]!.addr })).to.equal(1);
    expect(workersOf(undefined, { topology: topo, role: 'meta_root', addr: topo.meta_root.peers[0]!.addr })).to.equal(0);
    expect(workersOf(undefined, { topology: topo, role: 'coordinator', addr: topo.coordinators[0]!.addr, cores: 2 })).to.equal(0);
    expect(workersOf(undefined)).to.equal(0);
  });

  it('refuses anything else with a usage error, and a bad topology entry', () => {
    for (const v of ['99', '-1', 'two', '1.5']) expect(() => workersOf(v), v).to.throw(UsageError, /--workers/);
    expect(() => resolveTopology({ workers: { store: 99 } })).to.throw(/workers.store/);
    expect(() => resolveTopology({ workers: { gateway: 1 } })).to.throw(/unknown role/);
  });
});
