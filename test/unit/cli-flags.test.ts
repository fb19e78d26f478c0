import { expect } from 'chai';
import { Writable } from 'node:stream';
import { parseFlags, parseDurationMs, UsageError, type FlagSpecs } from '../../src/cli/flags.js';
import { dispatch, type Command } from '../../src/cli/command.js';

const specs: FlagSpecs = {
  'node-id': { type: 'int', help: 'node id', required: true, min: 1, max: 3 },
  addr: { type: 'string', help: 'listen address', default: '127.0.0.1:2380' },
  peers: { type: 'list', help: 'peers' },
  json: { type: 'bool', help: 'json output' },
  ttl: { type: 'duration', help: 'lease ttl', default: 3000, min: 100 },
};

function sink() {
  let text = '';
  const stream = new Writable({ write(chunk, _enc, cb) { text += chunk; cb(); } });
  return { stream, text: () => text };
}

describe('cli: flag parsing', () => {
  it('parses typed values, defaults and records which flags were given', () => {
    const p = parseFlags(['--node-id', '2', '--peers=a,b', '--json', 'extra', '--ttl', '2s'], specs);
    expect(p.flags).to.deep.equal({ 'node-id': 2, addr: '127.0.0.1:2380', peers: ['a', 'b'], json: true, ttl: 2000 });
    expect(p.positionals).to.deep.equal(['extra']);
    expect([...p.given].sort()).to.deep.equal(['json', 'node-id', 'peers', 'ttl']);
  });

  it('refuses unknown flags, missing values, bad integers, out-of-range values and missing required flags', () => {
    expect(() => parseFlags(['--node-id', '1', '--bogus'], specs)).to.throw(UsageError, 'unknown flag --bogus');
    expect(() => parseFlags(['--node-id'], specs)).to.throw(UsageError, '--node-id needs a value');
    expect(() => parseFlags(['--node-id', 'x'], specs)).to.throw(UsageError, 'takes an integer');
    expect(() => parseFlags(['--node-id', '4'], specs)).to.throw(UsageError, 'at most 3');
    expect(() => parseFlags([], specs)).to.throw(UsageError, '--node-id is required');
    expect(() => parseFlags(['--node-id', '1', '--ttl', '5'], specs)).to.throw(UsageError, 'at least 100');
    expect(() => parseFlags(['--node-id', '1', '--ttl', 'soon'], specs)).to.throw(UsageError, 'invalid duration');
  });

  it('parses durations with units', () => {
    expect(parseDurationMs('250ms')).to.equal(250);
    expect(parseDurationMs('1.5s')).to.equal(1500);
    expect(parseDurationMs('2m')).to.equal(120000);
    expect(parseDurationMs('40')).to.equal(40);
  });
});

describe('cli: dispatch', () => {
  const seen: unknown[] = [];
  const tree: Command = {
    name: 'nokv',
    summary: 'test tree',
    subcommands: [
      { name: 'echo', summary: 'echo flags', flags: specs, run: async (p) => { seen.push(p.flags['node-id']); return 0; } },
      { name: 'fail', summary: 'fails', flags: {}, run: async () => { throw new Error('it broke'); } },
    ],
  };

  it('routes to the subcommand, and exits 2 with one line for usage errors', async () => {
    const out = sink();
    const err = sink();
    expect(await dispatch(tree, ['echo', '--node-id', '3'], out.stream, err.stream)).to.equal(0);
    expect(seen).to.deep.equal([3]);
    expect(await dispatch(tree, ['echo', '--nope'], out.stream, err.stream)).to.equal(2);
    expect(await dispatch(tree, ['bogus'], out.stream, err.stream)).to.equal(2);
    const lines = err.text().trim().split('\n');
    expect(lines).to.deep.equal([
      'nokv echo: unknown flag --nope',
      'nokv: unknown command "bogus" for "nokv" (see nokv --help)',
    ]);
  });

  it('prints help listing subcommands and flags, and turns failures into exit 1 with the message', async () => {
    const out = sink();
    const err = sink();
    expect(await dispatch(tree, ['--help'], out.stream, err.stream)).to.equal(0);
    expect(out.text()).to.contain('echo').and.to.contain('fails');
    expect(await dispatch(tree, ['echo', '--help'], out.stream, err.stream)).to.equal(0);
    expect(out.text()).to.contain('--node-id <int>');
    expect(await dispatch(tree, ['fail'], out.stream, err.stream)).to.equal(1);
    expect(err.text()).to.equal('nokv fail: it broke\n');
  });
});
