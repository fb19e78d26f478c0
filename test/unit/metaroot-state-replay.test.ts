// Replay determinism of the rooted state machine: random command logs (built from a seed by a generator that
// looks at the state so many commands are valid, plus refusals and garbage) applied twice, and through a
// snapshot taken part way, must give deep-equal states, identical snapshot bytes and identical outcomes.
import { expect } from 'chai';
import fc from 'fast-check';
import { SeededPrng, type Prng } from '../../src/common/prng.js';
import {
  applyCommand,
  commands,
  decodeCommand,
  decodeSnapshot,
  digestOfLegacy,
  emptyState,
  encodeCommand,
  encodeSnapshot,
  events as E,
  hexKey,
  keyInRange,
  rangesOverlap,
  regionByKey,
  regionInput,
  type RegionDescriptor,
  type RootCommand,
  type RootEvent,
  type RootState,
} from '../../src/metaroot/state/index.js';
import { stateSummary } from '../../src/metaroot/state/query.js';
import { stateFromMsg, stateToMsg, summaryFromMsg, summaryToMsg } from '../../src/metaroot/state-wire.js';
import { METADATA_ROOT_SERVICE, metadataRootProto } from '../../src/metaroot/wire.js';

const SPLIT_KEYS = ['b', 'd', 'f', 'h', 'k', 'm', 'p', 's', 'v', 'x'].map(hexKey);
const HOLDERS = ['c1', 'c2', 'c3'];
const MOUNTS = ['vol1', 'vol2', 'vol3'];

function pick<T>(r: Prng, xs: readonly T[]): T {
  return xs[r.int(xs.length)];
}

function running(s: RootState): RegionDescriptor[] {
  return Object.values(s.regions).filter((d) => d.state === 'running');
}

class LogGenerator {
  private nextRegion = 2;
  private now = 1000;
  constructor(private readonly r: Prng) {}

  regionEvent(s: RootState): RootEvent {
    const r = this.r;
    const regions = running(s);
    const d = regions.length > 0 ? pick(r, regions) : null;
    const peers = [1, 2, 3].map((i) => ({ store_id: i, peer_id: 10 * i + r.int(3) }));
    switch (r.int(8)) {
      case 0: {
        if (!d) return E.regionBootstrap(regionInput(1, '', '', { version: 1, conf_version: 1 }, peers));
        const inside = SPLIT_KEYS.filter((k) => k > d.start_key && (d.end_key === '' || k < d.end_key));
        const at = inside.length > 0 ? pick(r, inside) : hexKey('q');
        const epoch = { version: d.epoch.version + 1, conf_version: d.epoch.conf_version };
        const base = r.chance(0.9) ? d.epoch : { version: d.epoch.version + 1, conf_version: 0 };
        return E.splitPlanned(d.region_id, base, regionInput(d.region_id, d.start_key, at, epoch, d.peers), regionInput(this.nextRegion++, at, d.end_key, epoch, d.peers));
      }
      case 1: {
        const left = d;
        const right = left && regions.find((x) => x.start_key === left.end_key && left.end_key !== '');
        if (!left || !right) return E.mergeCommitted(r.int(6) + 1);
        const epoch = { version: Math.max(left.epoch.version, right.epoch.version) + 1, conf_version: Math.max(left.epoch.conf_version, right.epoch.conf_version) };
        return E.mergePlanned(left.region_id, right.region_id, left.epoch, right.epoch, regionInput(left.region_id, left.start_key, right.end_key, epoch, left.peers));
      }
      case 2: {
        const pending = Object.values(s.pending_range_changes);
        if (pending.length === 0) return E.splitCancelled(r.int(6) + 1);
        const p = pick(r, pending);
        const commit = r.chance(0.6);
        if (p.kind === 'split') return commit ? E.splitCommitted(p.region_id) : E.splitCancelled(p.region_id);
        return commit ? E.mergeCommitted(p.region_id) : E.mergeCancelled(p.region_id);
      }
      case 3: {
        if (!d) return E.peerAdded(1);
        const free = Object.values(s.stores).find((st) => st.state === 'joined' && !d.peers.some((p) => p.store_id === st.store_id));
        if (!free) return E.storeJoined(4 + r.int(3), '127.0.0.1:20173');
        return E.peerAdditionPlanned(d.region_id, d.epoch, { store_id: free.store_id, peer_id: 100 + this.nextRegion++ });
      }
      case 4: {
        if (!d) return E.peerRemoved(1);
        return E.peerRemovalPlanned(d.region_id, d.epoch, pick(r, d.peers));
      }
      case 5: {
        const pending = Object.values(s.pending_peer_changes);
        if (pending.length === 0) return E.peerAdditionCancelled(r.int(6) + 1);
        const p = pick(r, pending);
        const done = r.chance(0.6);
        if (p.kind === 'add') return done ? E.peerAdded(p.region_id) : E.peerAdditionCancelled(p.region_id);
        return done ? E.peerRemoved(p.region_id) : E.peerRemovalCancelled(p.region_id);
      }
      case 6: {
        if (!d) return E.regionTombstoned(1);
        const bump = r.int(3) - 1; // -1 gives a stale epoch, 0 an unchanged one
        return E.descriptorPublished(regionInput(d.region_id, d.start_key, d.end_key, { version: d.epoch.version, conf_version: d.epoch.conf_version + bump }, d.peers.slice(0, 2 + r.int(2))));
      }
      default:
        return r.chance(0.3) && d ? E.regionTombstoned(d.region_id) : E.regionBootstrap(regionInput(this.nextRegion++, pick(r, SPLIT_KEYS), '', { version: 1, conf_version: 1 }, peers));
    }
  }

  namespaceEvent(s: RootState): RootEvent {
    const r = this.r;
    const m = pick(r, MOUNTS);
    const sub = s.subtrees[`${m}/1`];
    switch (r.int(8)) {
      case 0: return E.storeJoined(r.int(6) + 1, `127.0.0.1:${20170 + r.int(2)}`);
      case 1: return E.storeRetired(r.int(8) + 1);
      case 2: return E.mountRegistered(m, 1, r.int(3));
      case 3: return r.chance(0.3) ? E.mountRetired(m) : E.mountRegistered(m, 1, 3);
      case 4: return E.subtreeDeclared(m, 1, pick(r, ['gw1', 'gw2']), Math.max(1, (sub?.era ?? 0) + r.int(2)), String(r.int(50)));
      case 5:
        return sub?.handoff
          ? E.subtreeHandoffCompleted(m, 1, sub.handoff.to_authority, sub.handoff.era, String(r.int(80)))
          : E.subtreeHandoffStarted(m, 1, sub?.authority_id || 'gw1', pick(r, ['gw1', 'gw2']), (sub?.era ?? 0) + 1);
      case 6: return r.chance(0.7) ? E.snapshotEpochPublished(m, 1, String(r.int(5))) : E.snapshotEpochRetired(m, 1, String(r.int(5)));
      default: return E.quotaFenceUpdated(`${m}/q`, r.int(1000), r.int(1000), r.int(4) + 1);
    }
  }

  eunomia(s: RootState): RootCommand {
    const r = this.r;
    this.now += r.int(15);
    const now = this.now;
    const t = s.tenure;
    const h = r.chance(0.5) && t.holder_id ? t.holder_id : pick(r, HOLDERS);
    const era = Math.max(1, r.chance(0.8) ? t.era : t.era + r.int(3) - 1);
    const f = { alloc_id: String(r.int(200)), tso: String(r.int(200)), region_lookup: String(r.int(20)) };
    switch (r.int(6)) {
      case 0: {
        const legacy = s.legacy;
        const inherit = legacy && legacy.era === t.era;
        return commands.tenure({ op: 'issue', holder_id: h, now_ms: now, expires_unix_ms: now + 1 + r.int(60), ...(inherit ? { lineage_digest: digestOfLegacy(legacy), frontiers: legacy.frontiers } : {}) });
      }
      case 1: return commands.tenure({ op: r.chance(0.7) ? 'renew' : 'issue', holder_id: h, era, now_ms: now, expires_unix_ms: now + 1 + r.int(60) } as never);
      case 2: return commands.tenure({ op: 'release', holder_id: h, era, now_ms: now, frontiers: f });
      case 3: return commands.fence({ kind: r.chance(0.5) ? 'id' : 'tso', minimum: String(r.int(100000)), holder_id: h, era, now_ms: now });
      case 4: return commands.handover({ op: 'seal', holder_id: h, era, now_ms: now, frontiers: f });
      default: return commands.handover({ op: pick(r, ['confirm', 'close', 'reattach'] as const), holder_id: h, era, now_ms: now });
    }
  }

  command(s: RootState): RootCommand {
    const r = this.r;
    const roll = r.int(20);
    if (roll === 0) return { type: 'append', v: 1, events: [{ kind: 'bogus', v: 1 }] } as unknown as RootCommand;
    if (roll < 5) return this.eunomia(s);
    const n = r.chance(0.8) ? 1 : 2 + r.int(2);
    const evs: RootEvent[] = [];
    for (let i = 0; i < n; i++) evs.push(r.chance(0.6) ? this.regionEvent(s) : this.namespaceEvent(s));
    return commands.append(evs);
  }
}

interface Run {
  state: RootState;
  outcomes: string[];
}

function replay(start: RootState, log: Uint8Array[], firstIndex: number, check: boolean): Run {
  let state = start;
  const outcomes: string[] = [];
  log.forEach((bytes, i) => {
    let cmd: unknown;
    try {
      cmd = decodeCommand(bytes);
    } catch {
      cmd = null; // an undecodable entry still applies, as a recorded refusal
    }
    const step = applyCommand(state, cmd, { term: 1 + ((firstIndex + i - 1) >> 5), index: firstIndex + i });
    state = step.state;
    outcomes.push(step.outcome.accepted ? `ok ${step.outcome.events.length}` : `refused ${step.outcome.error?.message}`);
    if (check) checkInvariants(state);
  });
  return { state, outcomes };
}

function checkInvariants(s: RootState): void {
  const regions = Object.values(s.regions);
  for (let i = 0; i < regions.length; i++) {
    for (let j = i + 1; j < regions.length; j++) {
      const a = regions[i];
      const b = regions[j];
      expect(rangesOverlap(a.start_key, a.end_key, b.start_key, b.end_key), `regions ${a.region_id} and ${b.region_id} overlap`).to.equal(false);
    }
  }
  for (const p of Object.values(s.pending_range_changes)) {
    for (const id of p.target_ids) expect(s.regions[String(id)]?.state, `target ${id} of open ${p.kind}`).to.equal(p.kind === 'split' ? 'splitting' : 'merging');
  }
  for (const key of ['', ...SPLIT_KEYS, hexKey('zz')]) {
    const linear = regions.find((d) => keyInRange(key, d.start_key, d.end_key)) ?? null;
    expect(regionByKey(s, key)).to.equal(linear);
  }
}

function buildLog(seed: number, length: number): Uint8Array[] {
  const gen = new LogGenerator(new SeededPrng(seed));
  let state = emptyState();
  const log: Uint8Array[] = [];
  for (let i = 0; i < length; i++) {
    const cmd = gen.command(state);
    let bytes: Uint8Array;
    try {
      bytes = encodeCommand(cmd);
    } catch {
      bytes = new Uint8Array([0x81, 0xa4, 0x74, 0x79, 0x70, 0x65, 0xc0]); // {type: null}: decodes, refused on apply
    }
    log.push(bytes);
    state = applyCommand(state, cmd, { term: 1 + (i >> 5), index: i + 1 }).state;
  }
  return log;
}

describe('metaroot-state-replay: determinism', () => {
  it('replaying a random log twice, or from a snapshot taken part way, yields deep-equal states and outcomes', () => {
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 199 }), (seed, cut) => {
        const log = buildLog(seed, 200);
        const a = replay(emptyState(), log, 1, true);
        const b = replay(emptyState(), log, 1, false);
        expect(b.state).to.deep.equal(a.state);
        expect(b.outcomes).to.deep.equal(a.outcomes);
        expect(Buffer.from(encodeSnapshot(b.state)).equals(Buffer.from(encodeSnapshot(a.state)))).to.equal(true);

        const head = replay(emptyState(), log.slice(0, cut), 1, false);
        const restored = decodeSnapshot(encodeSnapshot(head.state));
        expect(restored).to.deep.equal(head.state);
        const tail = replay(restored, log.slice(cut), cut + 1, false);
        expect(tail.state).to.deep.equal(a.state);
        expect([...head.outcomes, ...tail.outcomes]).to.deep.equal(a.outcomes);
        for (const o of a.outcomes) {
          if (o.startsWith('ok')) accepted++;
          else refused++;
        }
      }),
      { numRuns: 25 },
    );
    // The generator must produce a healthy mix, or determinism is only shown for trivial logs.
    expect(accepted).to.be.greaterThan(1000);
    expect(refused).to.be.greaterThan(200);
  });

  it('the generated logs reach splits, merges, peer changes, mounts, subtree handoffs and Eunomia handovers', () => {
    const kinds = new Set<string>();
    for (const seed of [7, 8, 9]) {
      let state = emptyState();
      buildLog(seed, 400).forEach((bytes, i) => {
        let cmd: unknown = null;
        try {
          cmd = decodeCommand(bytes);
        } catch {
          // garbage entries are part of the log on purpose
        }
        const step = applyCommand(state, cmd, { term: 1, index: i + 1 });
        state = step.state;
        for (const ev of step.outcome.events) kinds.add(ev.kind);
      });
    }
    for (const kind of ['split_committed', 'split_cancelled', 'merge_committed', 'peer_added', 'peer_removed', 'region_tombstoned',
      'mount_registered', 'subtree_handoff_completed', 'quota_fence_updated', 'tenure', 'legacy', 'id_fence_advanced']) {
      expect(kinds.has(kind), `${kind} never applied`).to.equal(true);
    }
  });
});

/** A response message through the real proto encoding, decoded as a client receives it. */
function responseOverWire<T>(method: string, msg: unknown): T {
  const def = metadataRootProto().service(METADATA_ROOT_SERVICE)[method]!;
  return def.responseDeserialize(def.responseSerialize(msg)) as T;
}

describe('metaroot-state-replay: the typed whole-state reads', () => {
  it('random states (every map, pending changes, handoffs, legacy, handover) survive Snapshot.state and Status.summary unchanged', () => {
    const nonEmpty = new Set<string>();
    for (let seed = 1; seed <= 40; seed++) {
      for (const length of [50, 400]) {
        const { state } = replay(emptyState(), buildLog(seed, length), 1, false);
        for (const [name, map] of Object.entries(state)) if (map && typeof map === 'object' && Object.keys(map).length > 0) nonEmpty.add(name);
        if (state.legacy) nonEmpty.add('legacy');
        if (state.handover) nonEmpty.add('handover');
        if (Object.values(state.subtrees).some((t) => t.handoff)) nonEmpty.add('handoff');
        const snap = responseOverWire<{ state: unknown }>('Snapshot', { state: stateToMsg(state) });
        expect(stateFromMsg(snap.state as never), `seed ${seed} length ${length}`).to.deep.equal(state);
        const status = responseOverWire<{ summary: unknown }>('Status', { summary: summaryToMsg(stateSummary(state)) });
        expect(summaryFromMsg(status.summary as never)).to.deep.equal(stateSummary(state));
      }
    }
    for (const part of ['stores', 'regions', 'pending_peer_changes', 'pending_range_changes', 'mounts', 'subtrees', 'snapshot_epochs', 'quotas', 'legacy', 'handover', 'handoff']) {
      expect(nonEmpty.has(part), `no generated state had ${part}`).to.equal(true);
    }
  });

  it('refuses a state message the wire got wrong, naming the field', () => {
    const { state } = replay(emptyState(), buildLog(9, 300), 1, false);
    const good = stateToMsg(state) as Record<string, unknown>;
    const decode = (msg: unknown) => stateFromMsg(responseOverWire<{ state: never }>('Snapshot', { state: msg }).state);
    expect(() => decode({ ...good, id_fence: undefined, cluster_epoch: '9007199254740993' })).to.throw(/state.cluster_epoch.*safe integer/);
    expect(() => decode({ ...good, version: 2 })).to.throw(/state.version/);
    const stores = good.stores as Array<Record<string, unknown>>;
    expect(stores.length).to.be.greaterThan(0);
    expect(() => decode({ ...good, stores: [{ ...stores[0], state: 'STORE_STATE_UNSPECIFIED' }] })).to.throw(/stores\[0\].state/);
    expect(() => decode({ ...good, stores: [stores[0], stores[0]] })).to.throw(/duplicate store_id/);
    expect(() => decode({ ...good, stores: [{ ...stores[0], store_id: 0 }] })).to.throw(/state.stores/);
    expect(() => stateFromMsg(undefined)).to.throw(/state: missing/);
  });
});
