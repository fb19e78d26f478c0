// The inbound raft guard: validateMessage refuses anything that is not a message a correct core could send
// (with a typed reason, never a throw), senderIsMember refuses non-members, and MultiRaft.deliver — the one
// place raft traffic enters a group — drops and counts what either refuses, so a hostile batch leaves a live
// group's term, leader and log untouched.
import { expect } from 'chai';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { MultiRaft } from '../../src/raft/host/multi.js';
import { MAX_ENTRIES_PER_MESSAGE, MAX_RAFT_NUMBER, senderIsMember, validateMessage } from '../../src/raft/validate.js';
import type { Message } from '../../src/raft/index.js';
import { KvStateMachine } from '../support/kv-state-machine.js';
import { LocalCluster } from '../fixtures/raft-local-cluster.js';

const link = { from: 2, to: 1 };
const base = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  type: 'heartbeat', from: 2, to: 1, term: 5, logTerm: 0, index: 0, commit: 3, entries: [], reject: false, rejectHint: 0, ...over,
});
const entry = (index: number, term: number) => ({ index, term, type: 0, data: new Uint8Array([1]) });
const reasonOf = (raw: unknown, l = link) => {
  const r = validateMessage(raw, l);
  return r.ok ? 'ok' : r.reason;
};

describe('raft inbound guard: validateMessage', () => {
  it('accepts well-formed messages of every kind and copies only the known fields', () => {
    const app = validateMessage(base({ type: 'app', index: 4, logTerm: 3, entries: [entry(5, 3), entry(6, 5)], extra: 'x' }), link);
    expect(app.ok).to.equal(true);
    if (!app.ok) return;
    expect(app.value.entries.map((e) => e.index)).to.deep.equal([5, 6]);
    expect(app.value).to.not.have.property('extra');
    const snap = validateMessage(base({ type: 'snap', snapshot: { meta: { index: 9, term: 4, conf: { voters: [1, 2, 3], learners: [] } }, data: new Uint8Array(3) } }), link);
    expect(snap.ok).to.equal(true);
    expect(reasonOf(base({ type: 'vote', index: 7, logTerm: 4, transfer: true }))).to.equal('ok');
    expect(reasonOf(base({ type: 'readIndexResp', context: new Uint8Array(8) }))).to.equal('ok');
  });

  it('refuses terms and indexes beyond the safe range, negatives, fractions and u64 bigints', () => {
    expect(reasonOf(base({ term: 2n ** 64n - 1n }))).to.equal('out-of-range');
    expect(reasonOf(base({ term: 2 ** 64 }))).to.equal('out-of-range');
    expect(reasonOf(base({ term: MAX_RAFT_NUMBER + 1 }))).to.equal('out-of-range');
    expect(reasonOf(base({ term: MAX_RAFT_NUMBER }))).to.equal('ok');
    expect(reasonOf(base({ commit: -1 }))).to.equal('out-of-range');
    expect(reasonOf(base({ index: 1.5 }))).to.equal('out-of-range');
    expect(reasonOf(base({ term: '5' }))).to.equal('malformed');
    expect(reasonOf(base({ rejectHint: null })), 'a missing field is not zero').to.equal('malformed');
    expect(reasonOf(base({ commit: undefined }))).to.equal('malformed');
    expect(reasonOf(base({ entries: undefined }))).to.equal('malformed');
    expect(reasonOf(base({ term: Number.NaN }))).to.equal('out-of-range');
  });

  it('refuses unknown types, non-objects and wrongly typed flags', () => {
    for (const raw of [null, 7, 'vote', [], new Uint8Array(4)]) expect(reasonOf(raw)).to.equal('malformed');
    expect(reasonOf(base({ type: 'appendEntries' }))).to.equal('unknown-type');
    expect(reasonOf(base({ type: undefined }))).to.equal('unknown-type');
    expect(reasonOf(base({ reject: 1 }))).to.equal('malformed');
    expect(reasonOf(base({ transfer: 'yes' }))).to.equal('malformed');
    expect(reasonOf(base({ context: new Uint8Array(10_000) }))).to.equal('malformed');
  });

  it('refuses a message whose from is not the authenticated sender, or addressed to another node', () => {
    expect(reasonOf(base({ from: 3 }))).to.equal('wrong-address');
    expect(reasonOf(base({ to: 9 }))).to.equal('wrong-address');
    expect(reasonOf(base({ from: 0 }), { from: 0, to: 1 })).to.equal('wrong-address');
  });

  it('refuses entries that are not contiguous, go back in term, exceed the message term, or ride on a non-append', () => {
    const app = (entries: unknown, over: Record<string, unknown> = {}) => reasonOf(base({ type: 'app', index: 4, logTerm: 3, entries, ...over }));
    expect(app([entry(6, 3)])).to.equal('bad-entries');
    expect(app([entry(5, 3), entry(7, 3)])).to.equal('bad-entries');
    expect(app([entry(5, 2)])).to.equal('bad-entries');
    expect(app([entry(5, 4), entry(6, 3)])).to.equal('bad-entries');
    expect(app([entry(5, 6)])).to.equal('bad-entries');
    expect(app([{ index: 5, term: 3, type: 7, data: new Uint8Array(0) }])).to.equal('malformed');
    expect(app([{ index: 5, term: 3, type: 0, data: 'text' }])).to.equal('malformed');
    expect(app('entries')).to.equal('malformed');
    expect(app(Array.from({ length: MAX_ENTRIES_PER_MESSAGE + 1 }, (_, i) => entry(5 + i, 3)))).to.equal('bad-entries');
    expect(reasonOf(base({ type: 'heartbeat', entries: [entry(1, 1)] }))).to.equal('bad-entries');
  });

  it('refuses a snap without a sound snapshot, and a snapshot on any other message', () => {
    const snap = (snapshot: unknown) => reasonOf(base({ type: 'snap', snapshot }));
    const meta = { index: 9, term: 4, conf: { voters: [1, 2, 3], learners: [] } };
    expect(reasonOf(base({ type: 'snap' }))).to.equal('bad-snapshot');
    expect(reasonOf(base({ type: 'heartbeat', snapshot: { meta, data: new Uint8Array(0) } }))).to.equal('bad-snapshot');
    expect(snap({ meta, data: 'x' })).to.equal('bad-snapshot');
    expect(snap({ meta: { ...meta, term: 6 }, data: new Uint8Array(0) })).to.equal('bad-snapshot');
    expect(snap({ meta: { ...meta, index: 0 }, data: new Uint8Array(0) })).to.equal('bad-snapshot');
    expect(snap({ meta: { ...meta, conf: { voters: [], learners: [] } }, data: new Uint8Array(0) })).to.equal('bad-snapshot');
    expect(snap({ meta: { ...meta, conf: { voters: [1, 1], learners: [] } }, data: new Uint8Array(0) })).to.equal('bad-snapshot');
    expect(snap({ meta: { ...meta, conf: { voters: [1, 2], learners: [2] } }, data: new Uint8Array(0) })).to.equal('bad-snapshot');
    expect(snap({ meta: { ...meta, conf: { voters: [1, -2], learners: [] } }, data: new Uint8Array(0) })).to.equal('bad-snapshot');
  });

  it('never throws on arbitrary decoded input, and what it accepts is in range (property, seeded)', () => {
    const seed = 8_2024;
    console.log(`      fast-check seed ${seed}`);
    const field = fc.oneof(fc.integer(), fc.double(), fc.bigInt(), fc.string(), fc.boolean(), fc.constant(null), fc.uint8Array({ maxLength: 8 }));
    const arb = fc.record(
      {
        type: fc.oneof(fc.constantFrom('app', 'vote', 'heartbeat', 'snap', 'appResp', 'timeoutNow'), fc.string()),
        from: fc.oneof(fc.constant(2), field),
        to: fc.oneof(fc.constant(1), field),
        term: field, logTerm: field, index: field, commit: field, rejectHint: field, reject: field, transfer: field,
        entries: fc.oneof(fc.array(fc.record({ index: field, term: field, type: field, data: field }), { maxLength: 3 }), field),
        snapshot: fc.oneof(field, fc.record({ meta: fc.record({ index: field, term: field, conf: fc.record({ voters: fc.array(field), learners: fc.array(field) }) }), data: field })),
        context: field,
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(arb, (raw) => {
        const r = validateMessage(raw, link);
        if (!r.ok) return;
        const m = r.value;
        for (const n of [m.term, m.logTerm, m.index, m.commit, m.rejectHint]) expect(Number.isSafeInteger(n) && n >= 0 && n <= MAX_RAFT_NUMBER).to.equal(true);
      }),
      { seed, numRuns: 3000 },
    );
  });
});

describe('raft inbound guard: senderIsMember', () => {
  const peers = (id: number) => id === 2 || id === 3;
  it('admits voters and learners of the group and nobody else', () => {
    const conf = { voters: [1, 2], learners: [4] };
    expect(senderIsMember(2, conf, peers)).to.equal(true);
    expect(senderIsMember(4, conf, peers)).to.equal(true);
    expect(senderIsMember(3, conf, peers), 'a configured peer outside the group').to.equal(false);
    expect(senderIsMember(9, conf, peers)).to.equal(false);
  });
  it('a replica that knows no configuration yet admits configured peers only', () => {
    const empty = { voters: [], learners: [] };
    expect(senderIsMember(3, empty, peers)).to.equal(true);
    expect(senderIsMember(9, empty, peers)).to.equal(false);
  });
  it('a replica outside the configuration it knows (a new member replaying from an old snapshot) admits configured peers only', () => {
    const founders = { voters: [1, 2], learners: [] };
    expect(senderIsMember(3, founders, peers, 5), 'a leader added after the founders').to.equal(true);
    expect(senderIsMember(9, founders, peers, 5)).to.equal(false);
    expect(senderIsMember(3, founders, peers, 1), 'a member keeps the strict rule').to.equal(false);
  });
});

describe('raft inbound guard: MultiRaft.deliver on a live group', function () {
  this.timeout(20_000);
  let c: LocalCluster | undefined;
  afterEach(async () => {
    await c?.close();
    c = undefined;
  });

  it('drops and counts hostile items; the leader keeps its term and keeps committing', async () => {
    c = await LocalCluster.open();
    const leader = await c.elect(1);
    await leader.group.propose(KvStateMachine.encode('k', 'v1'));
    const before = leader.group.status();
    const multi = new MultiRaft({ clock: c.clock, tickMs: 10, isConfiguredPeer: (id) => id === 2 || id === 3 || id === 7 });
    multi.add(leader.group);
    const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });
    // A wire round trip: what a hostile peer can actually put in a batch.
    const wire = (items: Array<{ group: number; msg: unknown }>) => packr.unpack(packr.pack(items)) as Array<{ group: number; msg: unknown }>;
    const forged = (over: Partial<Message> & Record<string, unknown>) => ({ type: 'vote', from: 2, to: 1, term: 2, logTerm: 1, index: 1, commit: 0, entries: [], reject: false, rejectHint: 0, ...over });
    multi.deliver(2, wire([{ group: 1, msg: forged({ term: 2n ** 64n - 1n as unknown as number, transfer: true }) }]));
    multi.deliver(2, wire([{ group: 1, msg: forged({ from: 3, term: 1_000_000_001, transfer: true }) }]));
    multi.deliver(7, wire([{ group: 1, msg: forged({ from: 7, term: 1_000_000_001, transfer: true }) }]));
    multi.deliver(2, wire([{ group: 99, msg: forged({}) }, { group: 1, msg: 'garbage' }, { group: 1, msg: forged({ type: 'heartbeat', commit: 2 ** 60 }) }]));
    await c.settle();
    const st = multi.stats().inboundDrops;
    expect(st.total).to.equal(6);
    expect(st.byReason).to.deep.equal({ 'out-of-range': 2, 'wrong-address': 1, 'not-member': 1, 'unknown-group': 1, malformed: 1 });
    expect(st.bySource['2']!.drops).to.equal(5);
    expect(st.bySource['7']!.lastReason).to.equal('not-member');
    const after = leader.group.status();
    expect(after.term, 'no forged vote moved the term').to.equal(before.term);
    expect(after.role).to.equal('leader');
    await leader.group.propose(KvStateMachine.encode('k', 'v2'));
    expect(leader.sm.data.get('k')).to.equal('v2');
  });
});
