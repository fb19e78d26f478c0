import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultTopology, loadTopology, resolveTopology, topologyOnPorts } from '../../src/config/topology.js';
import { InvalidArgumentError } from '../../src/common/errors.js';
import { makeTempDir } from '../support/env.js';

describe('config: topology', () => {
  it('defaults to the 333 port table on loopback', () => {
    const t = loadTopology(undefined);
    expect(t.meta_root.peers.map((p) => [p.addr, p.raft_addr, p.metrics_addr])).to.deep.equal([
      ['127.0.0.1:2380', '127.0.0.1:3380', '127.0.0.1:9380'],
      ['127.0.0.1:2381', '127.0.0.1:3381', '127.0.0.1:9381'],
      ['127.0.0.1:2382', '127.0.0.1:3382', '127.0.0.1:9382'],
    ]);
    expect(t.coordinators.map((c) => `${c.id}@${c.addr}/${c.metrics_addr}`)).to.deep.equal([
      'coord-1@127.0.0.1:2390/127.0.0.1:9100',
      'coord-2@127.0.0.1:2391/127.0.0.1:9101',
      'coord-3@127.0.0.1:2392/127.0.0.1:9102',
    ]);
    expect(t.stores.map((s) => s.addr)).to.deep.equal(['127.0.0.1:20170', '127.0.0.1:20171', '127.0.0.1:20172']);
    expect(t.stores.map((s) => s.metrics_addr)).to.deep.equal(['127.0.0.1:9200', '127.0.0.1:9201', '127.0.0.1:9202']);
    expect(t.fsmeta).to.deep.equal([{ addr: '127.0.0.1:8090', metrics_addr: '127.0.0.1:9400' }]);
  });

  it('merges a partial file over the defaults', () => {
    const tmp = makeTempDir();
    try {
      const file = join(tmp.path, 'topo.json');
      writeFileSync(file, JSON.stringify({ lease: { ttl_ms: 5000 } }));
      const t = loadTopology(file);
      expect(t.lease).to.deep.equal({ ttl_ms: 5000, renew_before_ms: 1000 });
      expect(t.meta_root.peers).to.deep.equal(defaultTopology().meta_root.peers);
    } finally {
      tmp.remove();
    }
  });

  it('refuses bad files with one clear message', () => {
    const bad = (v: unknown, re: RegExp) => expect(() => resolveTopology(v)).to.throw(InvalidArgumentError, re);
    bad([], /JSON object/);
    bad({ extra: 1 }, /unknown field "extra"/);
    bad({ meta_root: { peers: defaultTopology().meta_root.peers.slice(0, 2) } }, /exactly 3 peers/);
    const dup = defaultTopology().coordinators;
    dup[1]!.addr = dup[0]!.addr;
    bad({ coordinators: dup }, /reuses 127.0.0.1:2390/);
    bad({ stores: [{ store_id: 1, addr: 'nope', metrics_addr: '127.0.0.1:1' }] }, /must be host:port/);
    bad({ lease: { ttl_ms: 1000, renew_before_ms: 1000 } }, /renew_before_ms/);
    expect(() => loadTopology('/nonexistent/topo.json')).to.throw(InvalidArgumentError, /cannot read topology file/);
  });

  it('builds a topology from a list of free ports', () => {
    const ports = Array.from({ length: 23 }, (_, i) => 40000 + i);
    const t = topologyOnPorts(ports);
    expect(t.meta_root.peers[0]!.addr).to.equal('127.0.0.1:40000');
    expect(t.fsmeta[0]!.metrics_addr).to.equal('127.0.0.1:40022');
  });
});
