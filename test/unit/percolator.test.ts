// Proves the Percolator rules over the in-memory column families: every conflict rule, rollback and commit
// idempotence, check-txn-status actions, heartbeat, one-phase commit and read visibility.
import { expect } from 'chai';
import { memoryMvccStore } from '../../src/store/mvcc/families.js';
import { batchRollback, checkTxnStatus, commit, onePhaseCommit, prewrite, resolveLock, txnHeartBeat } from '../../src/store/percolator/txn.js';
import { get, readMany, scan, scanRefs } from '../../src/store/percolator/read.js';
import type { Mutation } from '../../src/store/percolator/types.js';
import type { MvccStore } from '../../src/store/mvcc/types.js';

const k = (s: string) => Buffer.from(s);
const put = (key: string, value: string, assertNotExist = false): Mutation => ({ op: 'put', key: k(key), value: k(value), assertNotExist });
const del = (key: string): Mutation => ({ op: 'delete', key: k(key) });
const NOW = 1_000_000;

function pw(s: MvccStore, muts: Mutation[], startTs: bigint, opts: { ttl?: number; now?: number; primary?: string } = {}) {
  return prewrite(s, { mutations: muts, primary: k(opts.primary ?? muts[0]!.key.toString()), startTs, lockTtlMs: opts.ttl ?? 3000, minCommitTs: 0n, nowMs: opts.now ?? NOW });
}

function txn(s: MvccStore, muts: Mutation[], startTs: bigint, commitTs: bigint) {
  expect(pw(s, muts, startTs)).to.deep.equal([]);
  expect(commit(s, { keys: muts.map((m) => m.key), startTs, commitTs })).to.equal(undefined);
}

function read(s: MvccStore, key: string, ts: bigint): string | undefined | 'LOCKED' {
  const r = get(s, k(key), { readTs: ts });
  if ('error' in r) return 'LOCKED';
  return r.value?.toString();
}

describe('percolator rules', () => {
  let s: MvccStore;
  beforeEach(() => {
    s = memoryMvccStore();
  });

  it('a committed write is visible at and after its commit ts, not before', () => {
    txn(s, [put('a', '1')], 10n, 20n);
    expect(read(s, 'a', 19n)).to.equal(undefined);
    expect(read(s, 'a', 20n)).to.equal('1');
    txn(s, [put('a', '2')], 30n, 40n);
    expect(read(s, 'a', 35n)).to.equal('1');
    expect(read(s, 'a', 45n)).to.equal('2');
    txn(s, [del('a')], 50n, 60n);
    expect(read(s, 'a', 55n)).to.equal('2');
    expect(read(s, 'a', 61n)).to.equal(undefined);
  });

  it('a lock blocks readers after its start ts, but not older readers nor readers that bypass it', () => {
    expect(pw(s, [put('a', '1')], 10n)).to.deep.equal([]);
    expect(read(s, 'a', 9n)).to.equal(undefined);
    expect(read(s, 'a', 11n)).to.equal('LOCKED');
    const bypassed = get(s, k('a'), { readTs: 11n, bypassLocks: [10n] });
    expect('value' in bypassed && bypassed.value).to.equal(undefined);
  });

  it('prewrite reports Locked for a lock of another transaction and writes nothing', () => {
    expect(pw(s, [put('a', '1')], 10n)).to.deep.equal([]);
    const errs = pw(s, [put('b', '2'), put('a', '3')], 11n);
    expect(errs.map((e) => e.kind)).to.deep.equal(['locked']);
    expect(s.getLock(k('b')), 'no partial write').to.equal(undefined);
  });

  it('prewrite reports WriteConflict for a commit at or after its start ts', () => {
    txn(s, [put('a', '1')], 10n, 20n);
    const errs = pw(s, [put('a', '2')], 15n);
    expect(errs).to.have.length(1);
    expect(errs[0]!.kind).to.equal('write_conflict');
    if (errs[0]!.kind === 'write_conflict') expect(errs[0]!.conflictCommitTs).to.equal(20n);
    expect(pw(s, [put('a', '2')], 21n)).to.deep.equal([]);
  });

  it('prewrite with assert-not-exist reports AlreadyExists for a visible key only', () => {
    txn(s, [put('a', '1')], 10n, 20n);
    expect(pw(s, [put('a', '2', true)], 30n).map((e) => e.kind)).to.deep.equal(['already_exists']);
    txn(s, [del('a')], 40n, 50n);
    expect(pw(s, [put('a', '3', true)], 60n)).to.deep.equal([]);
  });

  it('prewrite replay is idempotent; prewrite after a rollback aborts', () => {
    expect(pw(s, [put('a', '1')], 10n)).to.deep.equal([]);
    expect(pw(s, [put('a', '1')], 10n)).to.deep.equal([]);
    expect(batchRollback(s, { keys: [k('b')], startTs: 12n })).to.equal(undefined);
    expect(pw(s, [put('b', '1')], 12n).map((e) => e.kind)).to.deep.equal(['abort']);
  });

  it('commit with min commit ts above the commit ts reports CommitTsExpired and leaves the lock', () => {
    expect(pw(s, [put('a', '1')], 10n)).to.deep.equal([]);
    const st = checkTxnStatus(s, { primary: k('a'), lockTs: 10n, callerStartTs: 30n, rollbackIfNotExist: false, nowMs: NOW });
    expect(st.action).to.equal('min_commit_ts_pushed');
    const err = commit(s, { keys: [k('a')], startTs: 10n, commitTs: 25n });
    expect(err?.kind).to.equal('commit_ts_expired');
    expect(s.getLock(k('a'))).to.not.equal(undefined);
    expect(read(s, 'a', 30n), 'pushed lock no longer blocks the pusher').to.equal(undefined);
    expect(commit(s, { keys: [k('a')], startTs: 10n, commitTs: 32n })).to.equal(undefined);
    expect(read(s, 'a', 32n)).to.equal('1');
  });

  it('commit aborts on a missing lock, succeeds on replay, aborts after rollback and on commit <= start', () => {
    expect(commit(s, { keys: [k('a')], startTs: 10n, commitTs: 20n })?.kind).to.equal('abort');
    txn(s, [put('a', '1')], 10n, 20n);
    expect(commit(s, { keys: [k('a')], startTs: 10n, commitTs: 20n }), 'replay').to.equal(undefined);
    expect(pw(s, [put('b', '1')], 30n)).to.deep.equal([]);
    expect(batchRollback(s, { keys: [k('b')], startTs: 30n })).to.equal(undefined);
    expect(commit(s, { keys: [k('b')], startTs: 30n, commitTs: 40n })?.kind).to.equal('abort');
    expect(pw(s, [put('c', '1')], 50n)).to.deep.equal([]);
    expect(commit(s, { keys: [k('c')], startTs: 50n, commitTs: 50n })?.kind).to.equal('abort');
  });

  it('batch rollback is idempotent, removes lock and data, and refuses a committed transaction', () => {
    expect(pw(s, [put('a', '1')], 10n)).to.deep.equal([]);
    expect(batchRollback(s, { keys: [k('a')], startTs: 10n })).to.equal(undefined);
    expect(batchRollback(s, { keys: [k('a')], startTs: 10n })).to.equal(undefined);
    expect(s.getLock(k('a'))).to.equal(undefined);
    expect(s.getData(k('a'), 10n)).to.equal(undefined);
    expect(read(s, 'a', 100n)).to.equal(undefined);
    txn(s, [put('b', '1')], 20n, 30n);
    expect(batchRollback(s, { keys: [k('b')], startTs: 20n })?.kind).to.equal('committed');
    expect(read(s, 'b', 100n)).to.equal('1');
  });

  it('check txn status: expired lock rolled back; committed reports its commit ts; missing lock rolled back when asked', () => {
    expect(pw(s, [put('a', '1')], 10n, { ttl: 100, now: NOW })).to.deep.equal([]);
    const live = checkTxnStatus(s, { primary: k('a'), lockTs: 10n, callerStartTs: 0n, rollbackIfNotExist: false, nowMs: NOW + 50 });
    expect(live).to.include({ action: 'none', lockTtlMs: 100 });
    const exp = checkTxnStatus(s, { primary: k('a'), lockTs: 10n, callerStartTs: 0n, rollbackIfNotExist: false, nowMs: NOW + 100 });
    expect(exp.action).to.equal('ttl_expire_rollback');
    expect(s.getLock(k('a'))).to.equal(undefined);
    const again = checkTxnStatus(s, { primary: k('a'), lockTs: 10n, callerStartTs: 0n, rollbackIfNotExist: false, nowMs: NOW + 200 });
    expect(again.action).to.equal('lock_not_exist_rollback');

    txn(s, [put('b', '1')], 20n, 30n);
    expect(checkTxnStatus(s, { primary: k('b'), lockTs: 20n, callerStartTs: 0n, rollbackIfNotExist: true, nowMs: NOW }).commitTs).to.equal(30n);

    const missing = checkTxnStatus(s, { primary: k('c'), lockTs: 40n, callerStartTs: 0n, rollbackIfNotExist: false, nowMs: NOW });
    expect(missing.error?.kind).to.equal('txn_not_found');
    const rolled = checkTxnStatus(s, { primary: k('c'), lockTs: 40n, callerStartTs: 0n, rollbackIfNotExist: true, nowMs: NOW });
    expect(rolled.action).to.equal('lock_not_exist_rollback');
    expect(pw(s, [put('c', 'late')], 40n).map((e) => e.kind), 'a late prewrite cannot resurrect it').to.deep.equal(['abort']);
  });

  it('txn heartbeat extends but never shrinks the TTL, and never revives an expired lock', () => {
    expect(pw(s, [put('a', '1')], 10n, { ttl: 100, now: NOW })).to.deep.equal([]);
    expect(txnHeartBeat(s, { primary: k('a'), startTs: 10n, adviseTtlMs: 500, nowMs: NOW + 50 }).ttlMs).to.equal(550);
    expect(txnHeartBeat(s, { primary: k('a'), startTs: 10n, adviseTtlMs: 10, nowMs: NOW + 60 }).ttlMs).to.equal(550);
    const late = txnHeartBeat(s, { primary: k('a'), startTs: 10n, adviseTtlMs: 500, nowMs: NOW + 10_000 });
    expect(late.error?.kind).to.equal('abort');
    expect(s.getLock(k('a'))).to.equal(undefined);
    expect(txnHeartBeat(s, { primary: k('a'), startTs: 10n, adviseTtlMs: 500, nowMs: NOW }).error?.kind).to.equal('txn_not_found');
  });

  it('resolve lock commits or rolls back only the named transaction', () => {
    expect(pw(s, [put('a', '1'), put('b', '2')], 10n)).to.deep.equal([]);
    expect(pw(s, [put('c', '3')], 11n)).to.deep.equal([]);
    expect(resolveLock(s, { startTs: 10n, commitTs: 20n, keys: [] }, k(''), k(''))).to.equal(2);
    expect(read(s, 'a', 25n)).to.equal('1');
    expect(read(s, 'b', 25n)).to.equal('2');
    expect(s.getLock(k('c'))).to.not.equal(undefined);
    expect(resolveLock(s, { startTs: 11n, commitTs: 0n, keys: [k('c')] }, k(''), k(''))).to.equal(1);
    expect(read(s, 'c', 25n)).to.equal(undefined);
  });

  it('one-phase commit writes without locks, applies the prewrite checks, and is idempotent', () => {
    expect(onePhaseCommit(s, { mutations: [put('a', '1'), put('b', '2')], startTs: 10n, commitTs: 11n })).to.deep.equal([]);
    expect(s.getLock(k('a'))).to.equal(undefined);
    expect(read(s, 'b', 11n)).to.equal('2');
    expect(onePhaseCommit(s, { mutations: [put('a', '1'), put('b', '2')], startTs: 10n, commitTs: 11n }), 'replay').to.deep.equal([]);
    expect(onePhaseCommit(s, { mutations: [put('a', 'x')], startTs: 9n, commitTs: 12n }).map((e) => e.kind)).to.deep.equal(['write_conflict']);
    expect(onePhaseCommit(s, { mutations: [put('a', 'x', true)], startTs: 20n, commitTs: 21n }).map((e) => e.kind)).to.deep.equal(['already_exists']);
    expect(pw(s, [put('c', '1')], 30n)).to.deep.equal([]);
    expect(onePhaseCommit(s, { mutations: [put('d', '1'), put('c', '2')], startTs: 31n, commitTs: 32n }).map((e) => e.kind)).to.deep.equal(['locked']);
    expect(read(s, 'd', 40n), 'refused 1PC wrote nothing').to.equal(undefined);
  });

  it('LOCK is a read the commit depends on: it conflicts with writers of the key after its start, never with other LOCKs', () => {
    const lock = (key: string): Mutation => ({ op: 'lock', key: k(key) });
    txn(s, [put('p', 'dir')], 10n, 11n);
    // Two one-phase commits LOCKing the same key both go through, and write nothing for it.
    expect(onePhaseCommit(s, { mutations: [put('c1', 'x'), lock('p')], startTs: 20n, commitTs: 25n })).to.deep.equal([]);
    expect(onePhaseCommit(s, { mutations: [put('c2', 'x'), lock('p')], startTs: 21n, commitTs: 24n })).to.deep.equal([]);
    expect([...s.writes(k('p'))].length, 'one-phase LOCKs leave no record').to.equal(1);
    // A writer of the key after the start conflicts.
    txn(s, [del('p')], 30n, 31n);
    expect(onePhaseCommit(s, { mutations: [put('c3', 'x'), lock('p')], startTs: 29n, commitTs: 40n }).map((e) => e.kind)).to.deep.equal(['write_conflict']);
    expect(read(s, 'c3', 50n), 'refused: nothing written').to.equal(undefined);
    // A put/delete lock on the key stops a LOCK; another transaction's LOCK lock does not stop a one-phase LOCK.
    expect(pw(s, [put('q', 'v')], 60n)).to.deep.equal([]);
    expect(onePhaseCommit(s, { mutations: [put('c4', 'x'), lock('q')], startTs: 61n, commitTs: 62n }).map((e) => e.kind)).to.deep.equal(['locked']);
    expect(pw(s, [lock('r')], 63n)).to.deep.equal([]);
    expect(onePhaseCommit(s, { mutations: [put('c5', 'x'), lock('r')], startTs: 64n, commitTs: 65n })).to.deep.equal([]);
    // In two phases a LOCK locks the key and commits a lock record: a later LOCK does not conflict with the
    // record, a writer that started before it does.
    expect(commit(s, { keys: [k('r')], startTs: 63n, commitTs: 66n })).to.equal(undefined);
    expect(pw(s, [lock('r')], 64n, { primary: 'r' })).to.deep.equal([]);
    expect(batchRollback(s, { keys: [k('r')], startTs: 64n })).to.equal(undefined);
    expect(pw(s, [put('r', 'w')], 65n).map((e) => e.kind)).to.deep.equal(['write_conflict']);
  });

  it('read ranges: a scan at start must still see the same when the transaction commits', () => {
    const ranges = [{ start: k('d/'), end: k('d0') }];
    txn(s, [put('d/a', '1')], 10n, 11n);
    const rmdir = (startTs: bigint, commitTs: bigint) => onePhaseCommit(s, { mutations: [del('p')], readRanges: ranges, startTs, commitTs }).map((e) => e.kind);
    expect(rmdir(12n, 13n), 'nothing changed in the range after the start').to.deep.equal([]);
    txn(s, [put('d/b', '1')], 20n, 22n);
    expect(rmdir(21n, 30n), 'an entry committed after the start').to.deep.equal(['write_conflict']);
    txn(s, [del('d/b')], 31n, 32n);
    expect(rmdir(30n, 40n), 'a delete after the start is a change too').to.deep.equal(['write_conflict']);
    expect(rmdir(33n, 40n)).to.deep.equal([]);
    expect(pw(s, [put('d/c', '1')], 50n)).to.deep.equal([]);
    expect(rmdir(51n, 52n), 'an insert in flight').to.deep.equal(['locked']);
    expect(prewrite(s, { mutations: [], readRanges: [{ start: k('d/'), end: k('d0') }], primary: k('p'), startTs: 50n, lockTtlMs: 3000, minCommitTs: 0n, nowMs: NOW }), 'its own lock is no change').to.deep.equal([]);
    expect(prewrite(s, { mutations: [del('p')], readRanges: ranges, primary: k('p'), startTs: 53n, lockTtlMs: 3000, minCommitTs: 0n, nowMs: NOW }).map((e) => e.kind)).to.deep.equal(['locked']);
    expect(s.getLock(k('p')), 'a refused prewrite locks nothing').to.equal(undefined);
  });

  it('scanRefs reads the key each value names (in the region) at the same version, stops at the first blocking lock, and reads extra keys', () => {
    txn(s, [put('d/a', 'v-i1'), put('d/b', 'v-i2'), put('d/c', 'v-z9'), put('d/d', 'x'), put('i/i1', 'one'), put('e', 'extra')], 10n, 11n);
    txn(s, [put('i/i1', 'later')], 20n, 21n);
    const req = { start: k('d/'), end: k('d0'), limit: 10, readTs: 15n, ref: { prefix: k('i/'), offset: -2, length: 2 }, keys: [k('e'), k('f')] };
    const r = scanRefs(s, k(''), k('y'), req);
    const refs = r.pairs.map((p) => [p.key.toString(), p.ref.kind === 'found' ? p.ref.value.toString() : p.ref.kind === 'elsewhere' ? `elsewhere ${p.ref.key}` : 'missing']);
    expect(refs).to.deep.equal([['d/a', 'one'], ['d/b', 'missing'], ['d/c', 'missing'], ['d/d', 'missing']]);
    expect(r.found.map((f) => f.value.toString())).to.deep.equal(['extra']);
    const narrow = scanRefs(s, k(''), k('i/i'), req);
    expect(narrow.pairs[0]!.ref, 'a key beyond the region is read elsewhere').to.deep.equal({ kind: 'elsewhere', key: k('i/i1') });
    expect(pw(s, [put('i/i2', 'two')], 30n)).to.deep.equal([]);
    expect(scanRefs(s, k(''), k('y'), { ...req, readTs: 40n }).error?.kind, 'a lock on a named key blocks').to.equal('locked');
    expect(pw(s, [put('i/', 'prefix')], 31n)).to.deep.equal([]);
    expect(scanRefs(s, k(''), k('y'), { ...req, readTs: 40n, ref: { prefix: k('i/'), offset: 0, length: 0 } }).error, 'no references: none read').to.equal(undefined);
  });

  it('readMany reads keys in one pass over their span, and one by one where the span is crowded', () => {
    const all = Array.from({ length: 200 }, (_, i) => `k/${String(i).padStart(3, '0')}`);
    txn(s, all.map((key) => put(key, `v${key}`)), 10n, 11n);
    txn(s, [del('k/005')], 12n, 13n);
    const values = (keys: string[], readTs = 20n) => {
      const r = readMany(s, keys.map(k), { readTs });
      if ('error' in r) throw new Error('locked');
      return Object.fromEntries([...r.values].map(([hex, v]) => [Buffer.from(hex, 'hex').toString(), v.toString()]));
    };
    expect(values(['k/003', 'k/004', 'k/005', 'k/006']), 'dense: one pass').to.deep.equal({ 'k/003': 'vk/003', 'k/004': 'vk/004', 'k/006': 'vk/006' });
    expect(values(['k/000', 'k/100', 'k/199', 'k/zzz']), 'sparse: the pass gives up, point reads finish').to.deep.equal({ 'k/000': 'vk/000', 'k/100': 'vk/100', 'k/199': 'vk/199' });
    expect(values(['k/005'], 12n), 'at an older version').to.deep.equal({ 'k/005': 'vk/005' });
    expect(pw(s, [put('k/150', 'x')], 30n)).to.deep.equal([]);
    expect('error' in readMany(s, [k('k/000'), k('k/150')], { readTs: 40n }), 'a lock on a wanted key blocks').to.equal(true);
    expect('error' in readMany(s, [k('k/000'), k('k/199')], { readTs: 40n }), 'a lock between wanted keys does not').to.equal(false);
  });

  it('scan returns visible pairs in key order, honours limit, and stops at a blocking lock', () => {
    txn(s, [put('a', '1'), put('b', '2'), put('ab', '3'), put('a\u0000', '4')], 10n, 20n);
    txn(s, [del('b')], 30n, 40n);
    const r = scan(s, k(''), k(''), 10, { readTs: 50n });
    expect(r.pairs.map((p) => p.key.toString())).to.deep.equal(['a', 'a\u0000', 'ab']);
    expect(scan(s, k('a'), k('b'), 2, { readTs: 50n }).pairs).to.have.length(2);
    expect(pw(s, [put('aa', 'x')], 60n)).to.deep.equal([]);
    expect(scan(s, k(''), k(''), 10, { readTs: 70n }).error?.kind).to.equal('locked');
    expect(scan(s, k(''), k(''), 10, { readTs: 55n }).pairs).to.have.length(3);
  });
});
