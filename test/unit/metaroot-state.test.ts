import { expect } from 'chai';
import fc from 'fast-check';
import { FailedPreconditionError, InvalidArgumentError, DataLossError } from '../../src/common/errors.js';
import {
  applyBatch,
  applyEvent,
  applyAppend,
  applyCommand,
  commands,
  decodeCommand,
  decodeSnapshot,
  emptyState,
  encodeCommand,
  encodeSnapshot,
  events as E,
  hexKey,
  listMounts,
  listQuotaFences,
  listStores,
  MAX_EVENTS_PER_BATCH,
  noteApplied,
  regionById,
  regionByKey,
  regionInput,
  stateSummary,
  validateEvent,
  type Cursor,
  type RegionInput,
  type RootEvent,
  type RootState,
} from '../../src/metaroot/state/index.js';

let nextIndex = 0;
const at = (): Cursor => ({ term: 1, index: ++nextIndex });
const P = (s: number) => ({ store_id: s, peer_id: 100 + s });
const peers3 = [P(1), P(2), P(3)];
const k = (s: string) => hexKey(s);

function apply(state: RootState, ...evs: RootEvent[]): RootState {
  return applyBatch(state, evs, at());
}

/** Asserts the events are refused with the given error class and that the input state did not change. */
function expectRefused(state: RootState, evs: unknown[], cls: typeof InvalidArgumentError | typeof FailedPreconditionError, match?: RegExp): Error {
  const before = structuredClone(state);
  let caught: unknown;
  try {
    applyBatch(state, evs as RootEvent[], at());
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a refusal').to.be.instanceOf(cls);
  if (match) expect((caught as Error).message).to.match(match);
  expect(state).to.deep.equal(before);
  if (evs.length === 1) {
    const v = validateEvent(state, evs[0]);
    expect(v.ok).to.equal(false);
  }
  return caught as Error;
}

function twoRegions(): RootState {
  let s = emptyState();
  for (const id of [1, 2, 3, 4]) s = apply(s, E.storeJoined(id, `127.0.0.1:${20170 + id}`));
  return apply(
    s,
    E.regionBootstrap(regionInput(1, '', k('m'), { version: 1, conf_version: 1 }, peers3)),
    E.regionBootstrap(regionInput(2, k('m'), '', { version: 1, conf_version: 1 }, peers3)),
  );
}

describe('metaroot-state: stores', () => {
  it('joining bumps membership_epoch, a same-address rejoin is a no-op, retire is terminal', () => {
    let s = apply(emptyState(), E.storeJoined(1, 'a:1'));
    expect(s.membership_epoch).to.equal(1);
    expect(s.stores['1']).to.include({ store_id: 1, address: 'a:1', state: 'joined' });
    s = apply(s, E.storeJoined(1, 'a:1'));
    expect(s.membership_epoch).to.equal(1);
    s = apply(s, E.storeJoined(1, 'a:2'));
    expect(s.membership_epoch).to.equal(2);
    expect(s.stores['1'].address).to.equal('a:2');
    // Draining: idempotent, survives a rejoin at a new address, still listed; a retired store cannot drain.
    s = apply(s, E.storeDraining(1), E.storeDraining(1));
    s = apply(s, E.storeJoined(1, 'a:3'));
    expect(s.stores['1']).to.include({ state: 'draining', address: 'a:3' });
    expect(listStores(s).map((x) => x.store_id)).to.deep.equal([1]);
    expect(s.membership_epoch).to.equal(4);
    s = apply(s, E.storeRetired(1));
    expect(s.stores['1'].state).to.equal('retired');
    expect(s.stores['1'].retired_at).to.deep.equal(s.last_applied);
    expect(s.membership_epoch).to.equal(5);
    expectRefused(s, [E.storeJoined(1, 'a:1')], FailedPreconditionError, /retired/);
    expectRefused(s, [E.storeDraining(1)], FailedPreconditionError, /retired/);
    expectRefused(s, [E.storeRetired(9)], FailedPreconditionError, /never joined/);
    expect(listStores(s)).to.deep.equal([]);
    expect(listStores(s, { includeRetired: true }).map((x) => x.store_id)).to.deep.equal([1]);
  });
});

describe('metaroot-state: region descriptors', () => {
  it('bootstrap installs running descriptors stamped with the new cluster_epoch, found by key', () => {
    const s = twoRegions();
    expect(s.cluster_epoch).to.equal(2);
    expect(s.regions['1']).to.deep.include({ root_epoch: 1, state: 'running', start_key: '', end_key: k('m') });
    expect(regionByKey(s, k('a'))?.region_id).to.equal(1);
    expect(regionByKey(s, '')?.region_id).to.equal(1);
    expect(regionByKey(s, k('m'))?.region_id).to.equal(2);
    expect(regionByKey(s, k('zzzz'))?.region_id).to.equal(2);
  });

  it('refuses an overlapping region, an existing id and an empty range, leaving state unchanged', () => {
    const s = twoRegions();
    expectRefused(s, [E.regionBootstrap(regionInput(3, k('a'), k('b'), { version: 1, conf_version: 1 }, peers3))], FailedPreconditionError, /overlaps/);
    expectRefused(s, [E.regionBootstrap(regionInput(1, k('x'), k('y'), { version: 1, conf_version: 1 }, peers3))], FailedPreconditionError, /exists/);
    expectRefused(s, [E.descriptorPublished(regionInput(7, k('b'), k('b'), { version: 1, conf_version: 1 }, peers3))], FailedPreconditionError, /empty/);
    expectRefused(s, [E.descriptorPublished(regionInput(1, '', k('n'), { version: 2, conf_version: 1 }, peers3))], FailedPreconditionError, /overlaps/);
  });

  it('publish upserts with a newer epoch, ignores an identical republish and refuses a stale epoch', () => {
    let s = twoRegions();
    const newer = regionInput(1, '', k('m'), { version: 1, conf_version: 2 }, [P(1), P(2)]);
    s = apply(s, E.descriptorPublished(newer));
    expect(s.cluster_epoch).to.equal(3);
    expect(s.regions['1'].peers).to.deep.equal([P(1), P(2)]);
    const same = apply(s, E.descriptorPublished(newer));
    expect(same.cluster_epoch).to.equal(3);
    expectRefused(s, [E.descriptorPublished(regionInput(1, '', k('m'), { version: 1, conf_version: 1 }, peers3))], FailedPreconditionError, /stale region epoch/);
    expectRefused(s, [E.descriptorPublished(regionInput(1, '', k('m'), { version: 1, conf_version: 2 }, peers3))], FailedPreconditionError, /without an epoch bump/);
  });

  it('tombstone removes the descriptor and leaves a gap', () => {
    let s = twoRegions();
    s = apply(s, E.regionTombstoned(2));
    expect(regionById(s, 2)).to.equal(null);
    expect(regionByKey(s, k('q'))).to.equal(null);
    expect(s.cluster_epoch).to.equal(3);
    expectRefused(s, [E.regionTombstoned(2)], FailedPreconditionError, /not found/);
  });
});

describe('metaroot-state: splits and merges', () => {
  const left: RegionInput = regionInput(1, '', k('f'), { version: 2, conf_version: 1 }, peers3);
  const right: RegionInput = regionInput(3, k('f'), k('m'), { version: 2, conf_version: 1 }, peers3);

  it('split planned replaces the parent with locked children; committed unlocks them', () => {
    let s = apply(twoRegions(), E.splitPlanned(1, { version: 1, conf_version: 1 }, left, right));
    expect(s.regions['1'].state).to.equal('splitting');
    expect(s.regions['3']).to.deep.include({ state: 'splitting', start_key: k('f') });
    expect(s.pending_range_changes['1'].base[0].end_key).to.equal(k('m'));
    expectRefused(s, [E.descriptorPublished(regionInput(3, k('f'), k('m'), { version: 3, conf_version: 1 }, peers3))], FailedPreconditionError, /open splitting/);
    expectRefused(s, [E.regionTombstoned(3)], FailedPreconditionError, /open splitting/);
    s = apply(s, E.splitCommitted(1));
    expect(s.regions['1'].state).to.equal('running');
    expect(s.regions['3'].state).to.equal('running');
    expect(s.pending_range_changes).to.deep.equal({});
    expect(regionByKey(s, k('g'))?.region_id).to.equal(3);
    expectRefused(s, [E.splitCommitted(1)], FailedPreconditionError, /no open split/);
  });

  it('split cancelled restores the parent exactly as it was', () => {
    const base = twoRegions();
    const s = apply(apply(base, E.splitPlanned(1, { version: 1, conf_version: 1 }, left, right)), E.splitCancelled(1));
    expect({ ...s.regions['1'], root_epoch: 0 }).to.deep.equal({ ...base.regions['1'], root_epoch: 0 });
    expect(regionById(s, 3)).to.equal(null);
  });

  it('refuses a split against a stale base epoch or with children that do not cover the parent', () => {
    const s = twoRegions();
    expectRefused(s, [E.splitPlanned(1, { version: 0, conf_version: 1 }, left, right)], FailedPreconditionError, /stale region epoch/);
    const gap = regionInput(3, k('g'), k('m'), { version: 2, conf_version: 1 }, peers3);
    expectRefused(s, [E.splitPlanned(1, { version: 1, conf_version: 1 }, left, gap)], FailedPreconditionError, /cover/);
    const oldEpoch = regionInput(3, k('f'), k('m'), { version: 1, conf_version: 1 }, peers3);
    expectRefused(s, [E.splitPlanned(1, { version: 1, conf_version: 1 }, left, oldEpoch)], FailedPreconditionError, /newer epoch/);
    const taken = regionInput(2, k('f'), k('m'), { version: 2, conf_version: 1 }, peers3);
    expectRefused(s, [E.splitPlanned(1, { version: 1, conf_version: 1 }, left, taken)], FailedPreconditionError, /exists/);
  });

  it('merge planned/committed joins adjacent regions; cancelled restores both', () => {
    const base = twoRegions();
    const merged = regionInput(1, '', '', { version: 2, conf_version: 1 }, peers3);
    let s = apply(base, E.mergePlanned(1, 2, { version: 1, conf_version: 1 }, { version: 1, conf_version: 1 }, merged));
    expect(s.regions['1'].state).to.equal('merging');
    expect(regionById(s, 2)).to.equal(null);
    const cancelled = apply(s, E.mergeCancelled(1));
    expect(Object.keys(cancelled.regions)).to.deep.equal(['1', '2']);
    expect(cancelled.regions['2'].state).to.equal('running');
    s = apply(s, E.mergeCommitted(1));
    expect(regionByKey(s, k('z'))?.region_id).to.equal(1);
    expect(s.regions['1'].state).to.equal('running');
    const notAdjacent = regionInput(1, '', '', { version: 2, conf_version: 1 }, peers3);
    expectRefused(base, [E.mergePlanned(2, 1, { version: 1, conf_version: 1 }, { version: 1, conf_version: 1 }, notAdjacent)], FailedPreconditionError, /not adjacent/);
  });
});

describe('metaroot-state: peer changes', () => {
  it('addition planned bumps conf_version and locks the region; added installs, cancelled restores', () => {
    const base = twoRegions();
    let s = apply(base, E.peerAdditionPlanned(1, { version: 1, conf_version: 1 }, P(4)));
    expect(s.regions['1']).to.deep.include({ state: 'changing_peers', epoch: { version: 1, conf_version: 2 } });
    expect(s.regions['1'].peers).to.deep.equal([...peers3, P(4)]);
    expect(s.pending_peer_changes['1'].kind).to.equal('add');
    expectRefused(s, [E.peerRemovalPlanned(1, { version: 1, conf_version: 2 }, P(4))], FailedPreconditionError, /open changing_peers/);
    const cancelled = apply(s, E.peerAdditionCancelled(1));
    expect(cancelled.regions['1'].peers).to.deep.equal(peers3);
    expect(cancelled.regions['1'].epoch).to.deep.equal({ version: 1, conf_version: 1 });
    s = apply(s, E.peerAdded(1));
    expect(s.regions['1'].state).to.equal('running');
    expect(s.pending_peer_changes).to.deep.equal({});
    expectRefused(s, [E.peerAdded(1)], FailedPreconditionError, /no open peer addition/);
  });

  it('removal planned/removed drops the peer; refuses unknown stores, duplicate peers and the last peer', () => {
    const base = twoRegions();
    let s = apply(base, E.peerRemovalPlanned(2, { version: 1, conf_version: 1 }, P(3)), E.peerRemoved(2));
    expect(s.regions['2'].peers).to.deep.equal([P(1), P(2)]);
    expect(s.regions['2'].epoch.conf_version).to.equal(2);
    s = apply(s, E.peerRemovalPlanned(2, { version: 1, conf_version: 2 }, P(2)), E.peerRemovalCancelled(2));
    expect(s.regions['2'].peers).to.deep.equal([P(1), P(2)]);
    expectRefused(base, [E.peerAdditionPlanned(1, { version: 1, conf_version: 1 }, P(9))], FailedPreconditionError, /not a joined store/);
    expectRefused(base, [E.peerAdditionPlanned(1, { version: 1, conf_version: 1 }, P(2))], FailedPreconditionError, /already has a peer/);
    const single = apply(apply(base, E.peerRemovalPlanned(2, { version: 1, conf_version: 1 }, P(3)), E.peerRemoved(2)),
      E.peerRemovalPlanned(2, { version: 1, conf_version: 2 }, P(2)), E.peerRemoved(2));
    expectRefused(single, [E.peerRemovalPlanned(2, { version: 1, conf_version: 3 }, P(1))], FailedPreconditionError, /last peer/);
  });
});

describe('metaroot-state: mounts, subtrees, snapshot epochs, quotas', () => {
  it('mount register creates its root subtree authority; a retired mount cannot be registered again', () => {
    let s = apply(emptyState(), E.mountRegistered('vol1', 1, 1));
    expect(s.mounts['vol1']).to.include({ state: 'registered', root_inode: 1, schema_version: 1 });
    expect(s.subtrees['vol1/1']).to.deep.include({ authority_id: '', era: 0, frontier: '0', handoff: null });
    s = apply(s, E.mountRegistered('vol1', 1, 2));
    expect(s.mounts['vol1'].schema_version).to.equal(2);
    expectRefused(s, [E.mountRegistered('vol1', 1, 1)], FailedPreconditionError, /schema version regression/);
    expectRefused(s, [E.mountRegistered('vol1', 7, 3)], FailedPreconditionError, /root inode/);
    s = apply(s, E.mountRetired('vol1'));
    expect(s.mounts['vol1'].state).to.equal('retired');
    expect(listMounts(s)).to.deep.equal([]);
    expectRefused(s, [E.mountRegistered('vol1', 1, 2)], FailedPreconditionError, /retired/);
    expectRefused(s, [E.mountRetired('nope')], FailedPreconditionError, /never registered/);
  });

  it('subtree authority: declare, hand off with a higher era, refuse era and frontier regression', () => {
    let s = apply(emptyState(), E.mountRegistered('vol1', 1, 1), E.subtreeDeclared('vol1', 1, 'gw-a', 1, '10'));
    expect(s.subtrees['vol1/1']).to.deep.include({ authority_id: 'gw-a', era: 1, frontier: '10' });
    expectRefused(s, [E.subtreeDeclared('vol1', 1, 'gw-b', 1, '10')], FailedPreconditionError, /held by gw-a/);
    expectRefused(s, [E.subtreeDeclared('vol1', 1, 'gw-a', 1, '9')], FailedPreconditionError, /frontier regression/);
    s = apply(s, E.subtreeHandoffStarted('vol1', 1, 'gw-a', 'gw-b', 2));
    expect(s.subtrees['vol1/1'].handoff).to.deep.include({ from_authority: 'gw-a', to_authority: 'gw-b', era: 2 });
    expectRefused(s, [E.subtreeHandoffCompleted('vol1', 1, 'gw-c', 2, '11')], FailedPreconditionError, /no open handoff/);
    s = apply(s, E.subtreeHandoffCompleted('vol1', 1, 'gw-b', 2, '11'));
    expect(s.subtrees['vol1/1']).to.deep.include({ authority_id: 'gw-b', era: 2, frontier: '11', handoff: null });
    expectRefused(s, [E.subtreeDeclared('vol1', 1, 'gw-a', 1, '20')], FailedPreconditionError, /era regression/);
    expectRefused(s, [E.subtreeHandoffStarted('vol1', 1, 'gw-b', 'gw-a', 2)], FailedPreconditionError, /does not exceed/);
  });

  it('snapshot epochs publish idempotently and retire by id', () => {
    let s = apply(emptyState(), E.mountRegistered('vol1', 1, 1), E.snapshotEpochPublished('vol1', 1, '18446744073709551615'));
    const id = 'vol1/1/18446744073709551615';
    expect(s.snapshot_epochs[id]).to.include({ mount_id: 'vol1', read_version: '18446744073709551615' });
    const again = apply(s, E.snapshotEpochPublished('vol1', 1, '18446744073709551615'));
    expect(again.snapshot_epochs).to.deep.equal(s.snapshot_epochs);
    s = apply(s, E.snapshotEpochRetired('vol1', 1, '18446744073709551615'));
    expect(s.snapshot_epochs).to.deep.equal({});
    expectRefused(s, [E.snapshotEpochPublished('other', 1, '5')], FailedPreconditionError, /not registered/);
  });

  it('quota fences only move to a strictly higher era', () => {
    let s = apply(emptyState(), E.quotaFenceUpdated('vol1/7', 2 ** 30, 1000, 1));
    s = apply(s, E.quotaFenceUpdated('vol1/7', 2 ** 31, 2000, 3));
    expect(listQuotaFences(s)).to.deep.equal([{ subject: 'vol1/7', limit_bytes: 2 ** 31, limit_inodes: 2000, era: 3 }]);
    expectRefused(s, [E.quotaFenceUpdated('vol1/7', 1, 1, 3)], FailedPreconditionError, /must increase/);
    expectRefused(s, [E.quotaFenceUpdated('vol1/7', 1, 1, 2)], FailedPreconditionError, /must increase/);
  });
});

describe('metaroot-state: bad input', () => {
  const s = twoRegions();

  it('refuses an unknown kind, a wrong version and malformed payloads with InvalidArgumentError', () => {
    expectRefused(s, [{ kind: 'region_exploded', v: 1 }], InvalidArgumentError, /unknown event kind/);
    expectRefused(s, [{ ...E.storeJoined(5, 'x'), v: 2 }], InvalidArgumentError, /version/);
    expectRefused(s, [{ kind: 'store_joined', v: 1, store_id: -1, address: 'x' }], InvalidArgumentError, /store_id/);
    expectRefused(s, [{ kind: 'store_joined', v: 1, store_id: 1.5, address: 'x' }], InvalidArgumentError);
    expectRefused(s, [E.regionBootstrap(regionInput(9, 'ZZ', '', { version: 1, conf_version: 1 }, peers3))], InvalidArgumentError, /hex/);
    expectRefused(s, [E.mountRegistered('__proto__', 1, 1)], InvalidArgumentError, /reserved/);
    expectRefused(s, [{ kind: 'id_fence_advanced', v: 1, minimum: '007' }], InvalidArgumentError, /u64/);
    expectRefused(s, [{ kind: 'id_fence_advanced', v: 1, minimum: '18446744073709551616' }], InvalidArgumentError, /u64/);
    expectRefused(s, [null], InvalidArgumentError);
    expectRefused(s, ['store_joined'], InvalidArgumentError);
  });

  it('refuses an oversized batch and an oversized event', () => {
    const many = Array.from({ length: MAX_EVENTS_PER_BATCH + 1 }, (_, i) => E.quotaFenceUpdated(`q${i}`, 1, 1, 1));
    expectRefused(s, many, InvalidArgumentError, /exceeds/);
    const huge = E.storeJoined(5, 'x');
    (huge as unknown as Record<string, unknown>).padding = 'p'.repeat(70 * 1024);
    expectRefused(s, [huge], InvalidArgumentError, /byte limit/);
  });

  it('a batch with one invalid event applies none of it', () => {
    const err = expectRefused(s, [E.storeJoined(5, 'x:1'), E.quotaFenceUpdated('q', 1, 1, 1), E.regionTombstoned(99)], FailedPreconditionError, /99/);
    expect(err).to.be.instanceOf(FailedPreconditionError);
  });

  it('refuses a cursor behind last_applied', () => {
    const later = noteApplied(s, { term: 3, index: 1000 });
    expect(() => applyEvent(later, E.storeJoined(8, 'x'), { term: 3, index: 999 })).to.throw(FailedPreconditionError, /behind/);
    expect(() => applyEvent(later, E.storeJoined(8, 'x'), { term: 2, index: 1001 })).to.throw(FailedPreconditionError, /behind/);
  });
});

describe('metaroot-state: commands and codec', () => {
  it('an append command refuses Eunomia and fence events so they cannot bypass the holder check', () => {
    const s = emptyState();
    const fence = { kind: 'id_fence_advanced', v: 1, minimum: '100' } as RootEvent;
    const { state, outcome } = applyAppend(s, [fence], { term: 1, index: 1 });
    expect(outcome.accepted).to.equal(false);
    expect(outcome.error).to.be.instanceOf(InvalidArgumentError);
    expect(state.id_fence).to.equal('0');
    expect(state.last_applied).to.deep.equal({ term: 1, index: 1 });
  });

  it('a refused command still advances last_applied and records the refusal; a replayed index throws', () => {
    const s = twoRegions();
    const cursor = { term: 2, index: s.last_applied.index + 1 };
    const { state, outcome } = applyCommand(s, commands.append([E.regionTombstoned(77)]), cursor);
    expect(outcome.accepted).to.equal(false);
    expect(outcome.error).to.be.instanceOf(FailedPreconditionError);
    expect({ ...state, last_applied: s.last_applied }).to.deep.equal(s);
    expect(state.last_applied).to.deep.equal(cursor);
    expect(() => applyCommand(state, commands.append([]), cursor)).to.throw(FailedPreconditionError, /already applied/);
    const garbage = applyCommand(state, { type: 'bogus', v: 1 }, { term: 2, index: cursor.index + 1 });
    expect(garbage.outcome.error).to.be.instanceOf(InvalidArgumentError);
  });

  it('commands and snapshots round-trip; garbage decodes to typed errors, never a crash', () => {
    const s = twoRegions();
    const cmd = commands.append([E.storeJoined(9, 'h:1'), E.quotaFenceUpdated('q', 5, 6, 1)]);
    expect(decodeCommand(encodeCommand(cmd))).to.deep.equal(cmd);
    expect(decodeSnapshot(encodeSnapshot(s))).to.deep.equal(s);
    expect(() => decodeCommand(new Uint8Array([0xc1]))).to.throw(InvalidArgumentError);
    expect(() => decodeCommand(new Uint8Array([0xdd, 0xff, 0xff]))).to.throw(DataLossError);
    expect(() => decodeSnapshot(new Uint8Array([0x92, 1]))).to.throw(DataLossError);
    expect(() => decodeSnapshot(encodeCommand(cmd))).to.throw(DataLossError);
    const bytes = encodeSnapshot(s);
    expect(() => decodeSnapshot(bytes.subarray(0, bytes.length - 3))).to.throw(DataLossError);
    expect(() => encodeCommand({ type: 'append', v: 1, events: [{ kind: 'nope' }] } as never)).to.throw(InvalidArgumentError);
  });

  it('random and corrupted bytes decode to typed errors only', () => {
    const good = encodeSnapshot(twoRegions());
    const typed = (fn: () => unknown): void => {
      try {
        fn();
      } catch (err) {
        expect(err).to.satisfy((e: unknown) => e instanceof InvalidArgumentError || e instanceof DataLossError);
      }
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(), fc.integer({ min: 0, max: 255 }), (junk, pos, byte) => {
        typed(() => decodeCommand(junk));
        typed(() => decodeSnapshot(junk));
        const flipped = good.slice();
        flipped[pos % flipped.length] = byte;
        typed(() => decodeSnapshot(flipped));
      }),
      { numRuns: 300 },
    );
  });

  it('stateSummary reports node-independent fields and counts', () => {
    const summary = stateSummary(twoRegions());
    expect(summary).to.deep.include({ cluster_epoch: 2, membership_epoch: 4, id_fence: '0', tso_fence: '0' });
    expect(summary.tenure).to.deep.equal({ holder_id: '', era: 0, expires_unix_ms: 0, sealed: false });
    expect(summary.counts).to.deep.include({ stores: 4, regions: 2, mounts: 0 });
  });
});
