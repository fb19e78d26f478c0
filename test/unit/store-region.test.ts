// Proves a region's state machine on LMDB: applied commands survive a reopen, entries at or below the durable
// applied index are skipped on replay, a snapshot restores the range on another replica, stale-epoch commands
// are refused at apply, and apply events name the committed keys. The GC command: every replica applying the
// same entries ends with the same families and safe point, which survives a reopen, travels in a snapshot and
// is never lowered; a transaction that started at or below it is refused.
import { expect } from 'chai';
import { openStorage, type Storage } from '../../src/storage/index.js';
import { LmdbMvccBackend } from '../../src/store/mvcc/lmdb.js';
import { decodeRegionRecord, regionRecordKey, RegionStateMachine, type ApplyEvent, type RegionRecord } from '../../src/store/region/state-machine.js';
import { DB_NAMES } from '../../src/storage/index.js';
import { encodeCommand, decodeCommand, type RegionCommand } from '../../src/store/region/command.js';
import { bootstrapRegions, descriptorToJson } from '../../src/store/region/descriptor.js';
import { get } from '../../src/store/percolator/read.js';
import { silentLogger } from '../../src/common/log.js';
import { makeTempDir } from '../support/env.js';

const k = (s: string) => Buffer.from(s);

function open(path: string, record: RegionRecord, events: ApplyEvent[] = []): { storage: Storage; sm: RegionStateMachine } {
  const storage = openStorage({ path });
  const backend = new LmdbMvccBackend(storage, silentLogger(), () => undefined);
  const sm = new RegionStateMachine(backend, storage, record, { onSplit: () => undefined, onApplied: (e) => events.push(e) }, {}, silentLogger());
  return { storage, sm };
}

const onePc = (key: string, value: string, startTs: bigint, v = 1): RegionCommand => ({
  t: 'one_pc',
  v,
  req: { mutations: [{ op: 'put', key: k(key), value: k(value) }], startTs, commitTs: startTs + 1n },
});

function read(sm: RegionStateMachine, key: string): string | undefined {
  const r = get(sm.mvcc, k(key), { readTs: 1_000n });
  return 'value' in r ? r.value?.toString() : 'LOCKED';
}

describe('store region state machine on LMDB', () => {
  const region1 = (): RegionRecord => ({ desc: descriptorToJson(bootstrapRegions([1, 2, 3])[0]!), applied: 0 });
  let dirs: Array<{ remove: () => void }> = [];
  let open_: Storage[] = [];
  afterEach(async () => {
    for (const s of open_) await s.close();
    for (const d of dirs) d.remove();
    dirs = [];
    open_ = [];
  });

  it('commands round-trip through the entry codec with bigint versions intact', () => {
    const cmd = onePc('a', '1', (1n << 60n) + 5n);
    const back = decodeCommand(encodeCommand(cmd));
    expect(back).to.deep.equal(cmd);
  });

  it('keeps applied state across a reopen and skips entries already applied', async () => {
    const dir = makeTempDir('nokv-region-');
    dirs.push(dir);
    const events: ApplyEvent[] = [];
    const a = open(dir.path, region1(), events);
    a.sm.apply({ index: 1, term: 1, data: encodeCommand(onePc('a', '1', 10n)) });
    a.sm.apply({ index: 2, term: 1, data: encodeCommand(onePc('b', '2', 20n)) });
    expect(read(a.sm, 'a'), 'visible before durable').to.equal('1');
    expect(events.map((e) => e.mutations.map((m) => m.key.toString()))).to.deep.equal([['a'], ['b']]);
    await a.storage.close();

    const b = open(dir.path, { desc: region1().desc, applied: 2 });
    open_.push(b.storage);
    expect(read(b.sm, 'a')).to.equal('1');
    expect(read(b.sm, 'b')).to.equal('2');
    expect(b.sm.apply({ index: 2, term: 1, data: encodeCommand(onePc('b', 'replayed', 30n)) }).kind).to.equal('skipped');
    expect(read(b.sm, 'b')).to.equal('2');
  });

  it('refuses a command admitted at another epoch version, and a snapshot restores the range elsewhere', async () => {
    const d1 = makeTempDir('nokv-region-');
    const d2 = makeTempDir('nokv-region-');
    dirs.push(d1, d2);
    const a = open(d1.path, region1());
    const b = open(d2.path, region1());
    open_.push(a.storage, b.storage);
    expect(a.sm.apply({ index: 1, term: 1, data: encodeCommand(onePc('a', '1', 10n, 7)) }).kind).to.equal('epoch_not_match');
    a.sm.apply({ index: 2, term: 1, data: encodeCommand(onePc('c', '3', 20n)) });
    const prewrite: RegionCommand = { t: 'prewrite', v: 1, req: { mutations: [{ op: 'put', key: k('d'), value: k('4') }], primary: k('d'), startTs: 30n, lockTtlMs: 1000, minCommitTs: 0n, nowMs: 5 } };
    a.sm.apply({ index: 3, term: 1, data: encodeCommand(prewrite) });
    b.sm.restore(a.sm.snapshot(), 3, 1);
    expect(read(b.sm, 'c')).to.equal('3');
    expect(read(b.sm, 'd'), 'locks travel in the snapshot').to.equal('LOCKED');
    expect(read(b.sm, 'a')).to.equal(undefined);
    expect(b.sm.applied).to.equal(3);
  });

  it('a GC entry collects the same versions on every replica; its safe point persists, travels in snapshots, never goes down, and refuses older transactions', async () => {
    const [d1, d2, d3] = [makeTempDir('nokv-region-'), makeTempDir('nokv-region-'), makeTempDir('nokv-region-')];
    dirs.push(d1, d2, d3);
    const a = open(d1.path, region1());
    const b = open(d2.path, region1());
    const entries: RegionCommand[] = [];
    for (let i = 0; i < 10; i++) entries.push(onePc('a', `v${i}`, BigInt(10 + 10 * i)));
    entries.push({ t: 'gc', v: 1, safePoint: 65n });
    entries.push({ t: 'gc', v: 1, safePoint: 40n }); // lower: a no-op
    const results = [a, b].map((r) => entries.map((c, i) => r.sm.apply({ index: i + 1, term: 1, data: encodeCommand(c) })));
    expect(results[0]![10]).to.deep.equal({ kind: 'ok', value: { safePoint: '65', writesRemoved: 5, dataRemoved: 5 } });
    expect(results[1]).to.deep.equal(results[0]);
    expect(results[0]![11]).to.deep.equal({ kind: 'ok', value: { safePoint: '65', writesRemoved: 0, dataRemoved: 0 } });
    const versions = (sm: RegionStateMachine) => [...sm.mvcc.writes(k('a'))].map((w) => w.commitTs);
    expect(versions(a.sm)).to.deep.equal([101n, 91n, 81n, 71n, 61n]);
    expect(versions(b.sm)).to.deep.equal(versions(a.sm));
    expect(get(a.sm.mvcc, k('a'), { readTs: 65n })).to.deep.include({ value: k('v5') });
    // A transaction that started at or below the safe point: its conflict check could miss removed versions.
    const late = a.sm.apply({ index: 13, term: 1, data: encodeCommand(onePc('b', 'x', 60n)) });
    expect(late.kind).to.equal('ok');
    expect((late as { value: Array<{ kind: string; message: string }> }).value[0]).to.include({ kind: 'abort' });
    expect((late as { value: Array<{ message: string }> }).value[0]!.message).to.match(/GC safe point 65/);
    expect(a.sm.gcSafePoint).to.equal(65n);
    const c = open(d3.path, region1());
    open_.push(b.storage, c.storage);
    c.sm.restore(a.sm.snapshot(), 13, 1);
    expect(c.sm.gcSafePoint, 'the safe point travels in the snapshot').to.equal(65n);
    expect(versions(c.sm)).to.deep.equal(versions(a.sm));
    await a.storage.close();
    const again = open(d1.path, { desc: region1().desc, applied: 0 });
    open_.push(again.storage);
    // The record on disk carries the point (the role reads it with the applied index).
    const rec = decodeRegionRecord(again.storage.db(DB_NAMES.appState).get(regionRecordKey(1))!);
    expect(rec.gc).to.equal('65');
  });
});
