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
  METADATA_ROOT_SERVICE,
  fenceFromMsg,
  fenceToMsg,
  handoverFromMsg,
  handoverToMsg,
  metadataRootProto,
  outcomeFromMsg,
  outcomeToMsg,
  tenureFromMsg,
  tenureToMsg,
  type ReplicaView,
} from '../../src/metaroot/wire.js';
import { EVENT_FIELDS, eventFromMsg, eventToMsg } from '../../src/metaroot/event-wire.js';
import { EVENT_KINDS, checkEventShape, type RootEvent } from '../../src/metaroot/state/index.js';
import { digestOfLegacy } from '../../src/metaroot/state/lineage.js';

/** Encodes a message as a method's request (or response) and decodes it back: the real bytes on the wire. */
function overWire<T>(method: string, side: 'request' | 'response', msg: unknown): T {
  const def = metadataRootProto().service(METADATA_ROOT_SERVICE)[method]!;
  const bytes = side === 'request' ? def.requestSerialize(msg) : def.responseSerialize(msg);
  return (side === 'request' ? def.requestDeserialize(bytes) : def.responseDeserialize(bytes)) as T;
}

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
    for (const t of tenures) expect(tenureFromMsg(overWire('ApplyTenure', 'request', tenureToMsg(t)))).to.deep.equal(t);
    const handovers: HandoverCommand[] = [
      { op: 'seal', holder_id: 'c', era: 2, now_ms: 1, frontiers: f },
      { op: 'confirm', holder_id: 'c', era: 3, now_ms: 1 },
      { op: 'close', holder_id: 'c', era: 3, now_ms: 1 },
      { op: 'reattach', holder_id: 'c', era: 3, now_ms: 1 },
    ];
    for (const h of handovers) expect(handoverFromMsg(overWire('ApplyHandover', 'request', handoverToMsg(h)))).to.deep.equal(h);
    const fence = { kind: 'tso' as const, minimum: '123456789012345678', holder_id: 'c', era: 2, now_ms: 5 };
    expect(fenceFromMsg(overWire('FenceAllocator', 'request', fenceToMsg(fence)))).to.deep.equal(fence);
  });

  it('refuses unknown ops and unsafe numbers as invalid arguments', () => {
    const unspecified = overWire<never>('ApplyTenure', 'request', { ...tenureToMsg(tenuresSample()), op: 'TENURE_OP_UNSPECIFIED' });
    expect(() => tenureFromMsg(unspecified)).to.throw(/unknown tenure op/);
    const huge = overWire<never>('FenceAllocator', 'request', { ...fenceToMsg({ kind: 'id', minimum: '1', holder_id: 'c', era: 1, now_ms: 1 }), era: '9007199254740993' });
    expect(() => fenceFromMsg(huge)).to.throw(/safe integer/);
  });

  it('round-trips an outcome', () => {
    const sm = new RootStateMachine();
    const out = sm.apply(entry(1, commands.tenure({ op: 'issue', holder_id: 'c1', expires_unix_ms: 50, now_ms: 1 })));
    const { error: _e, ...data } = out;
    expect(outcomeFromMsg(overWire('ApplyTenure', 'response', outcomeToMsg(data, view)))).to.deep.equal(data);
  });

  it('round-trips an outcome carrying legacy and handover records', () => {
    const sm = new RootStateMachine();
    const fr = { alloc_id: '5', tso: '123456789012345678', region_lookup: '0' };
    sm.apply(entry(1, commands.tenure({ op: 'issue', holder_id: 'c1', expires_unix_ms: 50, now_ms: 1 })));
    sm.apply(entry(2, commands.handover({ op: 'seal', holder_id: 'c1', era: 1, now_ms: 2, frontiers: fr })));
    const digest = digestOfLegacy(sm.state.legacy!);
    sm.apply(entry(3, commands.tenure({ op: 'issue', holder_id: 'c2', expires_unix_ms: 90, now_ms: 3, lineage_digest: digest, frontiers: fr })));
    const out = sm.apply(entry(4, commands.handover({ op: 'confirm', holder_id: 'c2', era: 2, now_ms: 4 })));
    const { error: _e, ...data } = out;
    expect(data.accepted).to.equal(true);
    expect(data.legacy, 'the seal left a legacy record').to.not.equal(null);
    expect(data.handover?.stage).to.equal('confirmed');
    expect(outcomeFromMsg(overWire('ApplyHandover', 'response', outcomeToMsg(data, view)))).to.deep.equal(data);
  });
});

describe('rooted events on the wire (RootedEvent)', () => {
  const epoch = { version: 3, conf_version: 2 };
  const region = (id: number, start: string, end: string) => ({ region_id: id, start_key: start, end_key: end, epoch, peers: [{ store_id: 1, peer_id: id * 10 + 1 }, { store_id: 2, peer_id: id * 10 + 2 }] });
  const fr = { alloc_id: '18446744073709551615', tso: '123456789012345678', region_lookup: '7' };
  const v = 1 as const;
  const samples: RootEvent[] = [
    events.storeJoined(4, '127.0.0.1:20174'),
    events.storeRetired(4),
    events.storeDraining(4),
    events.regionBootstrap(region(1, '', '6d')),
    events.descriptorPublished(region(2, '6d', 'ff00')),
    events.regionTombstoned(9),
    events.splitPlanned(1, epoch, region(1, '', '61'), region(3, '61', '6d')),
    events.splitCommitted(1),
    events.splitCancelled(1),
    events.mergePlanned(1, 3, epoch, { version: 4, conf_version: 1 }, region(1, '', '6d')),
    events.mergeCommitted(1),
    events.mergeCancelled(1),
    events.peerAdditionPlanned(2, epoch, { store_id: 3, peer_id: 23 }),
    events.peerAdded(2),
    events.peerAdditionCancelled(2),
    events.peerRemovalPlanned(2, epoch, { store_id: 1, peer_id: 21 }),
    events.peerRemoved(2),
    events.peerRemovalCancelled(2),
    { kind: 'id_fence_advanced', v, minimum: '9007199254740993' },
    { kind: 'tso_fence_advanced', v, minimum: '18446744073709551615' },
    { kind: 'tenure', v, holder_id: 'coord-1', era: 7, expires_unix_ms: 1_790_000_000_000, mandate: 7, lineage_digest: 'ab'.repeat(32), frontiers: fr },
    { kind: 'legacy', v, holder_id: 'coord-1', era: 6, mandate: 3, frontiers: fr },
    { kind: 'handover', v, holder_id: 'coord-2', legacy_era: 6, successor_era: 7, legacy_digest: 'cd', stage: 'reattached' },
    events.mountRegistered('default', 1, 1),
    events.mountRetired('old'),
    events.subtreeDeclared('default', 5, 'fsmeta-1', 2, '123456789012345678'),
    events.subtreeHandoffStarted('default', 5, 'fsmeta-1', 'fsmeta-2', 3),
    events.subtreeHandoffCompleted('default', 5, 'fsmeta-2', 3, '123456789012345679'),
    events.snapshotEpochPublished('default', 5, '123456789012345680'),
    events.snapshotEpochRetired('default', 5, '123456789012345680'),
    events.quotaFenceUpdated('default', 1 << 30, 1_000_000, 2),
  ];

  it('has one oneof member per event kind, and the table covers every kind', () => {
    expect(Object.keys(EVENT_FIELDS).sort()).to.deep.equal([...EVENT_KINDS].sort());
    // Every member of the oneof is a message; `v` is the only scalar beside it.
    const desc = metadataRootProto().packageDefinition['nokv.meta.v1.RootedEvent'] as { type: { field: Array<{ name: string; type: string }> } };
    const members = desc.type.field.filter((f) => f.type === 'TYPE_MESSAGE').map((f) => f.name).sort();
    expect(desc.type.field.filter((f) => f.type !== 'TYPE_MESSAGE').map((f) => f.name)).to.deep.equal(['v']);
    expect(members).to.deep.equal([...EVENT_KINDS].sort());
    expect(samples.map((e) => e.kind).sort()).to.deep.equal([...EVENT_KINDS].sort());
  });

  it('every kind survives the real encoding unchanged and still passes the shape check', () => {
    for (const ev of samples) {
      checkEventShape(ev);
      const back = overWire<{ events: never[] }>('Append', 'request', { events: [eventToMsg(ev)] }).events.map((m) => eventFromMsg(m));
      expect(back, ev.kind).to.deep.equal([ev]);
    }
  });

  it('refuses what the wire can get wrong as invalid arguments', () => {
    const decode = (msg: unknown) => eventFromMsg(overWire<{ events: never[] }>('Append', 'request', { events: [msg] }).events[0]);
    expect(() => decode({ v: 1 })).to.throw(/no event set/);
    expect(() => decode({ v: 1, store_joined: { store_id: '9007199254740993', address: 'a:1' } })).to.throw(/safe integer/);
    expect(() => decode({ v: 1, handover: { holder_id: 'c', stage: 'HANDOVER_STAGE_UNSPECIFIED' } })).to.throw(/handover stage/);
    // Unset message fields stay missing, so the shape check refuses them instead of a default standing in.
    expect(() => checkEventShape(decode({ v: 1, region_bootstrap: {} }))).to.throw(/region/);
  });
});

function tenuresSample(): TenureCommand {
  return { op: 'renew', holder_id: 'c', era: 1, expires_unix_ms: 9, now_ms: 1 };
}
