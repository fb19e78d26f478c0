// `nokv meta-root` flag validation: settings come from the topology, flags override them, and every bad flag
// is one line on stderr with exit code 2.
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dispatch, type Command } from '../../src/cli/command.js';
import { parseFlags, UsageError } from '../../src/cli/flags.js';
import { topologyOnPorts } from '../../src/config/topology.js';
import { metaRootCommand, metaRootFlags, metaRootSettings } from '../../src/metaroot/role.js';
import { makeTempDir } from '../support/env.js';

describe('nokv meta-root flags', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let topo: string;
  const ports = Array.from({ length: 23 }, (_, i) => 50000 + i);

  before(() => {
    dir = makeTempDir('nokv-metaroot-flags-');
    topo = join(dir.path, 'topology.json');
    writeFileSync(topo, JSON.stringify(topologyOnPorts(ports)));
  });
  after(() => dir.remove());

  const settings = (args: string[]) => metaRootSettings(parseFlags(args, metaRootFlags));

  it('takes addresses from the topology and lets flags override them', () => {
    const s = settings(['--node-id', '2', '--config', topo, '--addr', '127.0.0.1:1234', '--tick-ms', '20']);
    expect(s.addr).to.equal('127.0.0.1:1234');
    expect(s.raftAddr).to.equal(`127.0.0.1:${ports[4]}`);
    expect(s.tickMs).to.equal(20);
    expect(s.clientAddrs.get(2)).to.equal('127.0.0.1:1234');
    expect([...s.voters.keys()]).to.deep.equal([1, 2, 3]);
    expect(s.electionTicks).to.equal(10);
    expect(s.heartbeatTicks).to.equal(2);
  });

  it('runs every actor on the main thread unless --workers asks for worker threads', () => {
    expect(settings(['--node-id', '1', '--config', topo]).workers).to.equal(0);
    expect(settings(['--node-id', '1', '--config', topo, '--workers', '2']).workers).to.equal(2);
  });

  it('refuses bad flags with a usage error', () => {
    const bad: Array<[string[], RegExp]> = [
      [['--node-id', '7', '--config', topo], /not in the topology/],
      [['--node-id', '1', '--config', topo, '--raft-addr', 'nope'], /--raft-addr must be host:port/],
      [['--node-id', '1', '--config', topo, '--token-file', join(dir.path, 'missing')], /cannot read --token-file/],
      [['--node-id', '1', '--config', join(dir.path, 'missing.json')], /cannot read topology/],
      [['--node-id', '1', '--config', topo, '--heartbeat-ticks', '10'], /below --election-ticks/],
      [['--node-id', '1', '--config', topo, '--workers', '99'], /--workers/],
    ];
    for (const [args, re] of bad) expect(() => settings(args), args.join(' ')).to.throw(UsageError, re);
  });

  it('exits 2 with one line for a usage error', async () => {
    let err = '';
    const root: Command = { name: 'nokv', summary: '', subcommands: [metaRootCommand] };
    const code = await dispatch(root, ['meta-root', '--node-id', 'x'], { write: () => 0 }, { write: (t: string) => (err += t) });
    expect(code).to.equal(2);
    expect(err.trim().split('\n')).to.have.length(1);
  });
});
