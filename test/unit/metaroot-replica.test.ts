// The meta-root replica pieces without processes: the raft StateMachine applies commands in log order with
// the same outcome on every replica (a command that went stale in flight is a recorded refusal), survives a
// snapshot round trip, and the wire mapping of Eunomia requests and outcomes is lossless.
import { expect } from 'chai';
import { RootStateMachine } from '../../src/metaroot/server/state-machine.js';
import {
  commands,
  encodeCommand,
  events,
  type CommandOutcome,
  type HandoverCommand,
  type TenureCommand,
} from '../../src/metaroot/state/index.js';
import {
  fenceFromMsg,
  fenceToMsg,
  handoverFromMsg,
  handoverToMsg,
  outcomeFromMsg,
  outcomeToMsg,
  tenureFromMsg,
  tenureToMsg,
  type ReplicaView,
} from '../../src/metaroot/wire.js';

const entry = (index: number, cmd: Parameters<typeof encodeCommand>[0], term = 1) => ({ index, term, data: encodeCommand(cmd) });

describe('metaroot replica state machine', () => {
  it('every replica reaches the same outcomes and state, including a command that went stale in flight', () => {
    const now = 1_000_000;
    // Two coordinators both saw a vacant tenure and proposed Issue; the log orders them.
    const log = [
      entry(1, commands.append([events.storeJoined(1, 'a:1')])),
      entry(2, commands.tenure({ op: 'issue', holder_id: 'c1', expires_unix_ms: now + 5000, now_ms: now })),
      entry(3, commands.tenure({ op: 'issue', holder_id: 'c2', expires_unix_ms: now + 5000, now_ms: now })),
      entry(4, commands.fence({ kind: 'tso', minimum: '99', holder_id: 'c1', era: 1, now_ms: now })),
    ];
    const replicas = [new RootStateMachine(), new RootStateMachine(), new RootStateMachine()];
    const outcomes: CommandOutcome[][] = replicas.map((r) => log.map((e) => r.apply(e)));
    for (const o of outcomes.slice(1)) expect(JSON.stringify(o)).to.equal(JSON.stringify(outcomes[0]));
    const [first] = outcomes;
    expect(first!.map((o) => o.accepted)).to.deep.equal([true, true, false, true]);
    expect(first![2]!.error?.details).to.include({ reason: 'primacy', holder_id: 'c1' });
    expect(first![2]!.cursor).to.deep.equal({ term: 1, index: 3 });
    expect(replicas[0]!.state.tso_fence).to.equal('99');
    for (const r of replicas.slice(1)) expect(r.state).to.deep.equal(replicas[0]!.state);
  });

  it('restores from its snapshot, tells listeners, and ignores entries it already applied', () => {
    const a = new RootStateMachine();
    a.apply(entry(1, commands.append([events.mountRegistered('m', 1, 1)])));
    const b = new RootStateMachine();
    const seen: string[] = [];
    b.listen({ applied: (c) => seen.push(`applied ${c.index}`), restored: (s) => seen.push(`restored ${s.last_applied.index}`) });
    b.restore(a.snapshot(), 1, 1);
    expect(b.state).to.deep.equal(a.state);
    const replay = b.apply(entry(1, commands.append([events.mountRegistered('m', 1, 1)])));
    expect(replay.events).to.deep.equal([]);
    b.apply(entry(2, commands.append([events.mountRetired('m')])));
    expect(seen).to.deep.equal(['restored 1', 'applied 2']);
    expect(b.state.mounts.m!.state).to.equal('retired');
  });
});

describe('metaroot wire mapping', () => {
  const view: ReplicaView = {
    node_id: 1, is_leader: true, leader_id: 1, leader_addr: 'a:1', raft_term: 2, commit_index: 5, applied_index: 5, applied_cursor: { term: 2, index: 5 },
  };
  const f = { alloc_id: '18446744073709551615', tso: '7', region_lookup: '0' };

  it('round-trips every tenure, handover and fence request', () => {
    const tenures: TenureCommand[] = [
      { op: 'issue', holder_id: 'c', expires_unix_ms: 9, now_ms: 1 },
      { op: 'issue', holder_id: 'c', expires_unix_ms: 9, now_ms: 1, lineage_digest: 'ab', frontiers: f, mandate: 3 },
      { op: 'renew', holder_id: 'c', era: 4, expires_unix_ms: 9, now_ms: 1 },
      { op: 'release', holder_id: 'c', era: 4, now_ms: 1, frontiers: f },
    ];
    for (const t of tenures) expect(tenureFromMsg(tenureToMsg(t))).to.deep.equal(t);
    const handovers: HandoverCommand[] = [
      { op: 'seal', holder_id: 'c', era: 2, now_ms: 1, frontiers: f },
      { op: 'confirm', holder_id: 'c', era: 3, now_ms: 1 },
      { op: 'close', holder_id: 'c', era: 3, now_ms: 1 },
      { op: 'reattach', holder_id: 'c', era: 3, now_ms: 1 },
    ];
    for (const h of handovers) expect(handoverFromMsg(handoverToMsg(h))).to.deep.equal(h);
    const fence = { kind: 'tso' as const, minimum: '123456789012345678', holder_id: 'c', era: 2, now_ms: 5 };
    expect(fenceFromMsg(fenceToMsg(fence))).to.deep.equal(fence);
  });

  it('refuses unknown ops and unsafe numbers as invalid arguments', () => {
    expect(() => tenureFromMsg({ ...tenureToMsg(tenuresSample()), op: 'TENURE_OP_STEAL' })).to.throw(/unknown tenure op/);
    expect(() => fenceFromMsg({ ...fenceToMsg({ kind: 'id', minimum: '1', holder_id: 'c', era: 1, now_ms: 1 }), era: '9007199254740993' })).to.throw(/safe integer/);
  });

  it('round-trips an outcome', () => {
    const sm = new RootStateMachine();
    const out = sm.apply(entry(1, commands.tenure({ op: 'issue', holder_id: 'c1', expires_unix_ms: 50, now_ms: 1 })));
    const { error: _e, ...data } = out;
    expect(outcomeFromMsg(outcomeToMsg(data, view) as never)).to.deep.equal(data);
  });
});

function tenuresSample(): TenureCommand {
  return { op: 'renew', holder_id: 'c', era: 1, expires_unix_ms: 9, now_ms: 1 };
}
