// Owns the store-region scenario of the whole-stack simulator: one region on three stores, each replica the
// production RegionStateMachine (Percolator commands over the production LMDB-MVCC backend, whose families,
// applied index and descriptor share the process's simulated disk with its raft log, as in production), on
// the production raft host. Clients run Percolator transactions the way the store client does: read at a
// start timestamp after a read barrier on the leader (a lock in the way is checked at its primary and
// resolved, committed or rolled back), prewrite with the first key as primary, commit the primary (the
// commit point), then the secondaries. The workload is a bank: transfers between four accounts, and
// read-only snapshots of all of them. Timestamps come from one counter (the TSO itself is checked in the
// meta-root scenario). Checked, beyond the raft checkers of host-cluster.ts:
//   - atomic visibility and snapshot consistency: every snapshot of the accounts sums to the initial total;
//   - no acknowledged commit lost, reads see every commit before them: a read at start ts s of key k returns
//     a version written by a transaction that may have committed, with commit ts below s and not below the
//     commit ts of any acknowledged transaction that wrote k before s (the final reads after healing too);
//   - replicas agree on the region's MVCC state at the same applied index.
// Not covered: one-phase commit and its guard, splits, the region actor and the store's gRPC front.
import { Packr } from 'msgpackr';
import type { Storage } from '../../src/storage/index.js';
import { SeededPrng } from '../../src/common/prng.js';
import { silentLogger } from '../../src/common/log.js';
import { NotLeaderError, UnavailableError } from '../../src/common/errors.js';
import { SimClock } from '../../src/sim/sim-clock.js';
import type { SimStorage } from '../../src/sim/sim-disk.js';
import { LmdbMvccBackend } from '../../src/store/mvcc/lmdb.js';
import { get } from '../../src/store/percolator/read.js';
import type { CheckTxnStatusResult, KeyError } from '../../src/store/percolator/types.js';
import { encodeCommand, type RegionCommand } from '../../src/store/region/command.js';
import { descriptorToJson, type RegionDescriptor } from '../../src/store/region/descriptor.js';
import { RegionStateMachine, decodeRegionRecord, regionRecordKey, type ApplyResult } from '../../src/store/region/state-machine.js';
import { DB_NAMES } from '../../src/storage/storage.js';
import { HostCluster, SimViolation, type InjectedBug, type SimNode } from './host-cluster.js';
import { Nemesis, describeFaults, type NemesisConfig } from './nemesis.js';
import { SimDriver } from './sim-driver.js';
import { SimNetwork } from './sim-network.js';

export interface TxnSeedOptions {
  seed: number;
  verbose?: boolean;
  bug?: InjectedBug;
  out?: (line: string) => void;
  safetyMs?: number;
}

export interface TxnStats {
  events: number;
  committed: number;
  aborted: number;
  indeterminate: number;
  snapshots: number;
  locksResolved: number;
  crashes: number;
  leaders: number;
}

const REGION = 1;
const ACCOUNTS = ['acct/0', 'acct/1', 'acct/2', 'acct/3'].map((k) => Buffer.from(k));
const INITIAL = 100;
const DEFAULT_SAFETY_MS = 12_000;
const LIVENESS_BUDGET_MS = 20_000;
const CALL_TIMEOUT_MS = 1_000;
const LOCK_TTL_MS = 2_000;
const CLIENTS = 3;

type RegionSm = RegionStateMachine;
const snapPackr = new Packr({ useRecords: false });

interface Txn {
  id: number;
  startTs: bigint;
  commitTs?: bigint;
  /** ok: the primary's commit was acknowledged; info: it may have committed; fail: it certainly did not. */
  outcome: 'pending' | 'ok' | 'info' | 'fail';
  writes: Buffer[];
  ackAt?: number;
}

interface SnapshotRead {
  startTs: bigint;
  values: Map<string, { txn: number; balance: number }>;
}

function encodeValue(txn: number, balance: number): Buffer {
  return Buffer.from(`${balance}:${txn}`);
}

function decodeValue(v: Buffer | undefined): { txn: number; balance: number } {
  if (!v) return { txn: -1, balance: 0 };
  const [b, t] = v.toString().split(':');
  return { txn: Number(t), balance: Number(b) };
}

export async function runTxnScenario(o: TxnSeedOptions): Promise<TxnStats> {
  const log = (line: string) => {
    if (o.verbose) (o.out ?? console.log)(`[txn ${clock.now().toFixed(1)} ms] ${line}`);
  };
  const root = new SeededPrng(o.seed ^ 0x7a7a);
  const clock = new SimClock();
  const net = new SimNetwork(clock, root.fork(), { lossP: root.next() * 0.05, dupP: root.next() * 0.03, minDelayMs: 0.1, maxDelayMs: 0.5 + root.next() * 10 });
  const cfg: NemesisConfig = {
    crashP: root.next() * 0.06,
    stopP: root.next() * 0.01,
    partitionP: root.next() * 0.05,
    transferP: root.next() * 0.02,
    crashAfterSyncP: root.next() * 0.005,
    crashBeforeSyncP: root.next() * 0.005,
  };
  const desc: RegionDescriptor = { id: REGION, start: Buffer.alloc(0), end: Buffer.alloc(0), epoch: { version: 1, confVersion: 1 }, peers: [1, 2, 3] };
  const ownerDriven = root.chance(0.75);
  const stats: TxnStats = { events: 0, committed: 0, aborted: 0, indeterminate: 0, snapshots: 0, locksResolved: 0, crashes: 0, leaders: 0 };

  const cluster: HostCluster<RegionSm> = new HostCluster<RegionSm>({
    clock,
    net,
    prng: root.fork(),
    groupId: REGION,
    voters: desc.peers,
    // The store's way: one MVCC backend on the process's environment, the region's record read from it.
    makeStateMachine: (nodeId, storage: SimStorage) => {
      const env = storage as unknown as Storage;
      const backend = new LmdbMvccBackend(env, silentLogger(), (err) => cluster.fail(`store ${nodeId}: MVCC write failed: ${String(err)}`));
      const rec = storage.db(DB_NAMES.appState).get(regionRecordKey(REGION));
      const record = rec ? decodeRegionRecord(rec) : { desc: descriptorToJson(desc), applied: 0 };
      const sm = new RegionStateMachine(backend, env, record, { onSplit: () => undefined, onApplied: () => undefined }, {}, silentLogger());
      if (o.bug === 'region-snapshot-omits-locks') {
        // The injected state-machine bug: a snapshot without the lock family (every replica alike).
        const take = sm.snapshot.bind(sm);
        sm.snapshot = () => {
          const snap = snapPackr.unpack(take()) as { lock: unknown[] };
          return snapPackr.pack({ ...snap, lock: [] });
        };
      }
      return sm;
    },
    tickMs: 10,
    electionTimeoutTicks: 10 + root.int(10),
    heartbeatTimeoutTicks: 2,
    snapshotEveryEntries: 20 + root.int(150),
    compactionSlackEntries: root.int(30),
    maxSyncMs: 0.2 + root.next() * 5,
    crashAfterSyncP: () => (nemesis.active ? cfg.crashAfterSyncP : 0),
    crashBeforeSyncP: () => (nemesis.active ? cfg.crashBeforeSyncP : 0),
    driftMax: 0.02,
    bug: o.bug,
    ownerDriven,
    log,
  });
  const driver = new SimDriver(clock, () => cluster.check());
  const nemesis: Nemesis<RegionSm> = new Nemesis(cluster, net, driver, root.fork(), cfg, log, Array.from({ length: CLIENTS }, (_, i) => 200 + i));
  log(`seed ${o.seed}: region on 3 stores (${ownerDriven ? 'owner-driven' : 'self-driven'}), network ${JSON.stringify(net.faults)}, ${describeFaults(cfg)}`);

  // ---- the client's calls: to the believed leader over the network, with a deadline -----------------------
  let tso = 1n;
  const nextTs = () => ++tso;
  let hint = 1;
  const clientPrng = root.fork();

  /** One call to the leader; undefined = indeterminate (lost, timed out, leader changed after proposing). */
  const call = <T>(from: number, handler: (node: SimNode<RegionSm>) => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; certain: boolean; err: unknown }> =>
    new Promise((resolve) => {
      let done = false;
      const finish = (r: { ok: true; value: T } | { ok: false; certain: boolean; err: unknown }) => {
        if (done) return;
        done = true;
        t.cancel();
        resolve(r);
      };
      const t = clock.setTimer(CALL_TIMEOUT_MS, () => finish({ ok: false, certain: false, err: new UnavailableError('call timed out') }));
      const to = hint;
      net.rpc(from, to, () => {
        const node = cluster.nodes.get(to)!;
        const inc = node.inc;
        if (!inc) return;
        if (!inc.group.isLeader) {
          const l = inc.group.status().leaderId;
          hint = l || 1 + clientPrng.int(3);
          net.rpc(to, from, () => finish({ ok: false, certain: true, err: new NotLeaderError('not leader') }));
          return;
        }
        handler(node).then(
          (value) => inc.clock.isAlive && net.rpc(to, from, () => finish({ ok: true, value })),
          (err: unknown) => inc.clock.isAlive && net.rpc(to, from, () => finish({ ok: false, certain: false, err })),
        );
      });
      // A call that found no leader moves on to another store next time.
      clock.setTimer(CALL_TIMEOUT_MS / 2, () => {
        if (!done) hint = 1 + clientPrng.int(3);
      });
    });

  const propose = (from: number, build: (node: SimNode<RegionSm>) => RegionCommand) =>
    call<ApplyResult>(from, async (node) => {
      const r = await node.inc!.run((g) => g.propose(encodeCommand(build(node)), { timeoutMs: CALL_TIMEOUT_MS }));
      return r.result as ApplyResult;
    });

  const readKey = (from: number, key: Buffer, startTs: bigint) =>
    call<{ value: Buffer | undefined } | { error: KeyError }>(from, async (node) => {
      await node.inc!.run((g) => g.readBarrier({ timeoutMs: CALL_TIMEOUT_MS }));
      return get(node.inc!.sm.mvcc, key, { readTs: startTs });
    });

  /** A lock in a reader's way: ask its primary, then resolve this key accordingly. */
  const resolveLockOf = async (from: number, key: Buffer, startTs: bigint, lock: { primary: Buffer; lockTs: bigint }): Promise<void> => {
    const st = await propose(from, (node) => ({
      t: 'check',
      v: desc.epoch.version,
      req: { primary: lock.primary, lockTs: lock.lockTs, callerStartTs: startTs, rollbackIfNotExist: true, nowMs: node.inc!.clock.now() },
    }));
    if (!st.ok || st.value.kind !== 'ok') return;
    const res = st.value.value as CheckTxnStatusResult;
    if (res.lockTtlMs > 0) return; // still alive: the reader gives up this time
    const r = await propose(from, () => ({ t: 'resolve', v: desc.epoch.version, req: { startTs: lock.lockTs, commitTs: res.commitTs, keys: [key] } }));
    if (r.ok) stats.locksResolved++;
  };

  /** Reads one key at startTs, resolving at most one lock; undefined if it could not. */
  const read = async (from: number, key: Buffer, startTs: bigint): Promise<Buffer | undefined | null> => {
    for (let attempt = 0; attempt < 2; attempt++) {
      const r = await readKey(from, key, startTs);
      if (!r.ok) {
        log(`read of ${key.toString()} at ${startTs} failed: ${(r.err as Error).message}`);
        return null;
      }
      if ('value' in r.value) return r.value.value;
      const e = r.value.error;
      if (e.kind !== 'locked') return null;
      await resolveLockOf(from, key, startTs, e.lock);
    }
    return null;
  };

  // ---- the bank -------------------------------------------------------------------------------------------
  const txns = new Map<number, Txn>();
  const snapshots: SnapshotRead[] = [];
  let nextTxn = 1;
  let clientsOn = true;

  const transfer = async (from: number, accounts: Buffer[], setup = false): Promise<Txn['outcome']> => {
    const id = nextTxn++;
    const txn: Txn = { id, startTs: nextTs(), outcome: 'pending', writes: accounts };
    txns.set(id, txn);
    const balances: number[] = [];
    // Reading first also clears locks an earlier attempt left behind (after their TTL).
    for (const k of accounts) {
      const v = await read(from, k, txn.startTs);
      if (v === null) return (txn.outcome = 'fail');
      balances.push(decodeValue(v).balance);
    }
    const amount = setup ? 0 : clientPrng.int(30);
    const values = setup ? accounts.map(() => INITIAL) : [balances[0]! - amount, balances[1]! + amount];
    const primary = accounts[0]!;
    const pw = await propose(from, (node) => ({
      t: 'prewrite',
      v: desc.epoch.version,
      req: { mutations: accounts.map((k, i) => ({ op: 'put' as const, key: k, value: encodeValue(id, values[i]!) })), primary, startTs: txn.startTs, lockTtlMs: LOCK_TTL_MS, minCommitTs: 0n, nowMs: node.inc!.clock.now() },
    }));
    if (!pw.ok && pw.certain) return (txn.outcome = 'fail');
    if (pw.ok && pw.value.kind === 'ok' && (pw.value.value as KeyError[]).length > 0) {
      await propose(from, () => ({ t: 'rollback', v: desc.epoch.version, req: { keys: accounts, startTs: txn.startTs } }));
      return (txn.outcome = 'fail');
    }
    // A prewrite whose answer was lost may have locked: the commit below decides either way (or a reader will).
    const commitTs = nextTs();
    txn.commitTs = commitTs;
    const c = await propose(from, () => ({ t: 'commit', v: desc.epoch.version, req: { keys: [primary], startTs: txn.startTs, commitTs } }));
    if (!c.ok) return (txn.outcome = 'info');
    if (c.value.kind !== 'ok' || c.value.value) {
      // Refused (the lock is gone: rolled back by a reader or never written): certainly not committed.
      return (txn.outcome = 'fail');
    }
    txn.outcome = 'ok';
    txn.ackAt = clock.now();
    // Secondaries: best effort; a reader resolves what is left from the primary.
    void propose(from, () => ({ t: 'commit', v: desc.epoch.version, req: { keys: accounts.slice(1), startTs: txn.startTs, commitTs } }));
    return 'ok';
  };

  const snapshot = async (from: number): Promise<void> => {
    const startTs = nextTs();
    const values = new Map<string, { txn: number; balance: number }>();
    for (const k of ACCOUNTS) {
      const v = await read(from, k, startTs);
      if (v === null) return;
      values.set(k.toString(), decodeValue(v));
    }
    snapshots.push({ startTs, values });
  };

  const clientLoop = async (p: number): Promise<void> => {
    const from = 200 + p;
    while (clientsOn) {
      if (clientPrng.chance(0.35)) await snapshot(from);
      else {
        const a = clientPrng.int(ACCOUNTS.length);
        const b = (a + 1 + clientPrng.int(ACCOUNTS.length - 1)) % ACCOUNTS.length;
        const out = await transfer(from, [ACCOUNTS[a]!, ACCOUNTS[b]!]);
        if (out === 'ok') stats.committed++;
        else if (out === 'fail') stats.aborted++;
        else stats.indeterminate++;
      }
      await new Promise<void>((r) => clock.setTimer(clientPrng.next() * 20, r));
    }
  };

  for (const id of cluster.nodes.keys()) driver.spawn(`start store ${id}`, () => cluster.start(id));
  // The accounts are opened before any fault (the network too is clean until the nemesis begins): a setup
  // transaction retried until it commits.
  net.faultsOn = false;
  let setupDone = false;
  driver.spawn('setup', async () => {
    while (!setupDone) {
      await new Promise<void>((r) => clock.setTimer(100, r));
      const out = await transfer(200, ACCOUNTS, true);
      log(`opening the accounts: ${out}`);
      if (out === 'ok') setupDone = true;
    }
  });
  if (!(await driver.runUntil(10_000, () => setupDone))) throw new SimViolation('liveness: the accounts could not be opened within 10 s without faults');
  const setupTxn = [...txns.values()].find((t) => t.outcome === 'ok')!;
  for (let p = 0; p < CLIENTS; p++) driver.spawn(`client ${p}`, () => clientLoop(p));
  nemesis.begin();
  const faultsFrom = clock.now();
  await driver.runUntil(faultsFrom + (o.safetyMs ?? DEFAULT_SAFETY_MS));
  log('liveness phase: every fault healed');
  nemesis.end();
  clientsOn = false;
  // After healing (and every lock's TTL), a snapshot must be readable again.
  await driver.runUntil(clock.now() + LOCK_TTL_MS + 500);
  let finalDone = false;
  driver.spawn('final snapshot', async () => {
    while (!finalDone) {
      const before = snapshots.length;
      await snapshot(299);
      if (snapshots.length > before) finalDone = true;
      else await new Promise<void>((r) => clock.setTimer(100, r));
    }
  });
  if (!(await driver.runUntil(clock.now() + LIVENESS_BUDGET_MS, () => finalDone))) throw new SimViolation(`liveness: no snapshot of the accounts readable within ${LIVENESS_BUDGET_MS} ms after healing`);
  const converged = await driver.runUntil(clock.now() + LIVENESS_BUDGET_MS, () => {
    const l = cluster.leader();
    if (!l || cluster.live().length !== 3) return false;
    const c = l.inc!.group.status().commitIndex;
    return cluster.live().every((n) => n.inc!.group.status().appliedIndex === c);
  });
  if (!converged) throw new SimViolation('liveness: region replicas did not converge after healing');
  const states = cluster.live().map((n) => ({ id: n.id, at: n.inc!.group.status().appliedIndex, s: Buffer.from(n.inc!.sm.snapshot()).toString('base64') }));
  for (const x of states) if (x.at === states[0]!.at && x.s !== states[0]!.s) throw new SimViolation(`region state: replicas ${states[0]!.id} and ${x.id} differ at applied index ${x.at}`);

  checkSnapshots(snapshots, txns, setupTxn);
  stats.events = driver.events;
  stats.snapshots = snapshots.length;
  stats.crashes = cluster.stats.crashes;
  stats.leaders = cluster.stats.leaders;
  return stats;
}

function checkSnapshots(snapshots: SnapshotRead[], txns: Map<number, Txn>, setup: Txn): void {
  const total = ACCOUNTS.length * INITIAL;
  for (const s of snapshots) {
    let sum = 0;
    for (const [key, v] of s.values) {
      sum += v.balance;
      const writer = txns.get(v.txn);
      if (!writer || writer.outcome === 'fail' || writer.outcome === 'pending' && writer.commitTs === undefined) {
        throw new SimViolation(`snapshot at ${s.startTs} read ${key} = ${v.balance} written by txn ${v.txn}, which never committed (${writer?.outcome ?? 'unknown'})`);
      }
      if (writer.commitTs === undefined || writer.commitTs >= s.startTs) {
        throw new SimViolation(`snapshot at ${s.startTs} read ${key} from txn ${v.txn} committed at ${writer.commitTs}: not before the snapshot`);
      }
      // Every acknowledged commit of this key before the snapshot must be visible (this version or a newer one).
      for (const t of txns.values()) {
        if (t.outcome !== 'ok' || t.commitTs === undefined || t.commitTs >= s.startTs) continue;
        if (!t.writes.some((k) => k.toString() === key)) continue;
        if (t.commitTs > writer.commitTs) {
          throw new SimViolation(`snapshot at ${s.startTs} read ${key} from txn ${v.txn} (commit ${writer.commitTs}), but txn ${t.id} acknowledged a commit of it at ${t.commitTs}: an acknowledged commit is lost or invisible`);
        }
      }
    }
    if (sum !== total) throw new SimViolation(`snapshot at ${s.startTs} sums to ${sum}, not ${total}: ${JSON.stringify([...s.values])} (setup txn ${setup.id})`);
  }
}
