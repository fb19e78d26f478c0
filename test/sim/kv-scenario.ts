// Owns the register-KV scenario of the whole-stack simulator: three or five replicas of one raft group on the
// production host, clients reading (read barrier, then the local state), writing and compare-and-setting a
// few keys, and a nemesis crashing (lost unsynced writes, torn last write, crash right after a sync),
// cleanly stopping and restarting processes, partitioning the network and moving leadership. A liveness
// phase with every fault healed must converge. Checked: the raft safety properties (host-cluster.ts), every
// key's history linearizable with the chaos tests' checker (test/chaos/lib/linearizability.ts), which also
// covers "no acknowledged write lost" since final reads after healing are part of the history, and all
// replicas holding the same state at the end.
import { pack, unpack } from 'msgpackr';
import { SeededPrng } from '../../src/common/prng.js';
import type { AppliedEntry, StateMachine } from '../../src/raft/host/replicated.js';
import { SimClock } from '../../src/sim/sim-clock.js';
import { checkHistory } from '../chaos/lib/linearizability.js';
import { HistoryRecorder, type PendingOp, type RegisterValue } from '../chaos/lib/history.js';
import { HostCluster, SimViolation, type InjectedBug, type SimNode } from './host-cluster.js';
import { SimDriver } from './sim-driver.js';
import { SimNetwork } from './sim-network.js';
import { Nemesis, describeFaults, type NemesisConfig } from './nemesis.js';

type Cmd = { k: string; w: string } | { k: string; from: string | null; to: string };

/** Registers in a map; a CAS answers whether it swapped. Deterministic, as a replicated state machine must be. */
export class RegisterMachine implements StateMachine<{ swapped: boolean } | undefined> {
  readonly values = new Map<string, string>();
  apply(e: AppliedEntry): { swapped: boolean } | undefined {
    const c = unpack(e.data) as Cmd;
    if ('w' in c) {
      this.values.set(c.k, c.w);
      return undefined;
    }
    const swapped = (this.values.get(c.k) ?? null) === c.from;
    if (swapped) this.values.set(c.k, c.to);
    return { swapped };
  }
  snapshot(): Uint8Array {
    return pack([...this.values].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
  restore(data: Uint8Array): void {
    this.values.clear();
    for (const [k, v] of unpack(data) as Array<[string, string]>) this.values.set(k, v);
  }
}

export interface KvSeedOptions {
  seed: number;
  verbose?: boolean;
  bug?: InjectedBug;
  out?: (line: string) => void;
  /** Virtual milliseconds of the faulty phase. */
  safetyMs?: number;
}

export interface KvStats {
  nodes: number;
  events: number;
  virtualMs: number;
  ops: number;
  okWrites: number;
  okReads: number;
  crashes: number;
  restarts: number;
  leaders: number;
  maxCommit: number;
  snapshotsRestored: number;
  partitions: number;
  tornWrites: number;
  lostBatches: number;
}

const KEYS = ['a', 'b', 'c'];
const CLIENTS = 4;
const DEFAULT_SAFETY_MS = 12_000;
const LIVENESS_BUDGET_MS = 20_000;
const PROPOSE_TIMEOUT_MS = 1_500;

export async function runKvScenario(o: KvSeedOptions): Promise<KvStats> {
  const log = (line: string) => {
    if (o.verbose) (o.out ?? console.log)(`[${clock.now().toFixed(1)} ms] ${line}`);
  };
  const root = new SeededPrng(o.seed);
  const clock = new SimClock();
  const n = root.chance(0.5) ? 3 : 5;
  const net = new SimNetwork(clock, root.fork(), {
    lossP: root.next() * 0.1,
    dupP: root.next() * 0.05,
    minDelayMs: 0.1,
    maxDelayMs: 0.5 + root.next() * 15,
  });
  const nemesisCfg: NemesisConfig = {
    crashP: root.next() * 0.08,
    stopP: root.next() * 0.02,
    partitionP: root.next() * 0.08,
    transferP: root.next() * 0.03,
    crashAfterSyncP: root.next() * 0.01,
    crashBeforeSyncP: root.next() * 0.01,
  };
  const tickMs = 10;
  // Production roles drive their groups from an actor (externalDrive); a quarter of the seeds use the group's own loop.
  const ownerDriven = root.chance(0.75);
  const cluster: HostCluster<RegisterMachine> = new HostCluster({
    clock,
    net,
    prng: root.fork(),
    groupId: 1,
    voters: Array.from({ length: n }, (_, i) => i + 1),
    makeStateMachine: () => new RegisterMachine(),
    tickMs,
    electionTimeoutTicks: 10 + root.int(10),
    heartbeatTimeoutTicks: 1 + root.int(3),
    snapshotEveryEntries: 10 + root.int(120),
    compactionSlackEntries: root.int(30),
    maxSyncMs: 0.2 + root.next() * 8,
    crashAfterSyncP: () => (nemesis.active ? nemesisCfg.crashAfterSyncP : 0),
    crashBeforeSyncP: () => (nemesis.active ? nemesisCfg.crashBeforeSyncP : 0),
    driftMax: root.next() * 0.05,
    bug: o.bug,
    ownerDriven,
    log,
  });
  const driver = new SimDriver(clock, () => cluster.check());
  const nemesis: Nemesis<RegisterMachine> = new Nemesis(cluster, net, driver, root.fork(), nemesisCfg, log);
  log(`seed ${o.seed}: ${n} nodes (${ownerDriven ? 'owner-driven' : 'self-driven'}), network ${JSON.stringify(net.faults)}, ${describeFaults(nemesisCfg)}`);

  const history = new HistoryRecorder();
  const clientPrng = root.fork();
  let leaderHint = 1;
  const seq = new Map<number, number>();
  let clientsOn = true;
  let okWrites = 0;
  let okReads = 0;

  // Every incarnation's in-flight operations become indeterminate when it dies (the client sees the
  // connection drop; the proposal may or may not have been committed).
  const track = (node: SimNode<RegisterMachine>, op: PendingOp, work: Promise<unknown>, onOk: (v: unknown) => void) => {
    let settled = false;
    const inc = node.inc!;
    const death = () => {
      if (settled) return;
      settled = true;
      op.info('process died');
    };
    inc.onDeath.add(death);
    return work.then(
      (v) => {
        if (settled) return;
        settled = true;
        inc.onDeath.delete(death);
        onOk(v);
      },
      (err: Error) => {
        if (settled) return;
        settled = true;
        inc.onDeath.delete(death);
        op.info(err.message);
      },
    );
  };

  const pickNode = (): SimNode<RegisterMachine> | undefined => {
    const ids = [...cluster.nodes.keys()];
    const id = clientPrng.chance(0.8) ? leaderHint : ids[clientPrng.int(ids.length)]!;
    return cluster.nodes.get(id);
  };

  const clientStep = (p: number): void => {
    if (!clientsOn) return;
    const key = KEYS[clientPrng.int(KEYS.length)]!;
    const node = pickNode();
    const r = clientPrng.next();
    const next = () => clock.setTimer(clientPrng.next() * 30, () => clientStep(p));
    const s = (seq.get(p) ?? 0) + 1;
    seq.set(p, s);
    const value = `p${p}-${s}`;
    if (!node?.inc) {
      next();
      return;
    }
    const group = node.inc.group;
    if (!group.isLeader) {
      const hint = group.status().leaderId;
      if (hint) leaderHint = hint;
      else leaderHint = 1 + clientPrng.int(cluster.nodes.size);
      next();
      return;
    }
    if (r < 0.4) {
      const op = history.invoke(p, key, { f: 'read' });
      const sm = node.inc.sm;
      void track(node, op, node.inc.run((g) => g.readBarrier({ timeoutMs: PROPOSE_TIMEOUT_MS })), () => {
        okReads++;
        op.ok({ read: sm.values.get(key) ?? null });
      }).then(next);
    } else if (r < 0.7) {
      const op = history.invoke(p, key, { f: 'write', value });
      void track(node, op, node.inc.run((g) => g.propose(pack({ k: key, w: value }), { timeoutMs: PROPOSE_TIMEOUT_MS })), () => {
        okWrites++;
        op.ok();
      }).then(next);
    } else {
      // Expect what this node's state shows now: sometimes current, sometimes stale — both must be handled.
      const from: RegisterValue = node.inc.sm.values.get(key) ?? null;
      const op = history.invoke(p, key, { f: 'cas', from, to: value });
      void track(node, op, node.inc.run((g) => g.propose(pack({ k: key, from, to: value }), { timeoutMs: PROPOSE_TIMEOUT_MS })), (v) => {
        const swapped = (v as { result: { swapped: boolean } }).result.swapped;
        if (swapped) okWrites++;
        op.ok({ swapped });
      }).then(next);
    }
  };

  for (const id of cluster.nodes.keys()) driver.spawn(`start ${id}`, () => cluster.start(id));
  for (let p = 0; p < CLIENTS; p++) clock.setTimer(50 + p, () => clientStep(p));
  nemesis.begin();

  const safetyMs = o.safetyMs ?? DEFAULT_SAFETY_MS;
  let nextLogCheck = 500;
  await driver.runUntil(safetyMs, () => {
    if (clock.now() >= nextLogCheck) {
      nextLogCheck += 500;
      cluster.checkLogMatching();
    }
    return false;
  });

  // Liveness: heal everything; the cluster must elect a leader, commit, and bring every replica level.
  log('liveness phase: every fault healed');
  nemesis.end();
  const healedAt = clock.now();
  const converged = await driver.runUntil(healedAt + LIVENESS_BUDGET_MS, () => {
    const leader = cluster.leader();
    if (!leader || cluster.live().length !== cluster.nodes.size) return false;
    const st = leader.inc!.group.status();
    if (st.commitIndex < 2) return false;
    return cluster.live().every((n) => n.inc!.group.status().appliedIndex === st.commitIndex && n.inc!.group.status().commitIndex === st.commitIndex);
  });
  if (!converged) {
    const l = cluster.leader();
    throw new SimViolation(`liveness: no convergence within ${LIVENESS_BUDGET_MS} ms after healing (leader ${l?.id ?? 'none'}, live ${cluster.live().map((n) => `${n.id}@${n.inc!.group.status().appliedIndex}`).join(' ')})`);
  }
  clientsOn = false;
  // Final reads through the leader, after everything in flight settled: no acknowledged write may be missing.
  await driver.runUntil(clock.now() + 3 * PROPOSE_TIMEOUT_MS);
  const leader = cluster.leader();
  if (!leader) throw new SimViolation('liveness: the leader was lost after convergence with no faults');
  for (const key of KEYS) {
    const op = history.invoke(99, key, { f: 'read' });
    let done = false;
    const sm = leader.inc!.sm;
    void track(leader, op, leader.inc!.run((g) => g.readBarrier({ timeoutMs: 5_000 })), () => op.ok({ read: sm.values.get(key) ?? null })).then(() => (done = true));
    await driver.runUntil(clock.now() + 6_000, () => done);
    if (op.op.outcome !== 'ok') throw new SimViolation(`liveness: final read of ${key} did not complete after healing (${op.op.error ?? 'pending'})`);
  }
  cluster.checkLogMatching();
  // Replica agreement: at the same applied index every replica holds the same state.
  const states = cluster.live().map((nd) => ({ id: nd.id, at: nd.inc!.group.status().appliedIndex, s: Buffer.from(nd.inc!.sm.snapshot()).toString('base64') }));
  for (const x of states) {
    if (x.at === states[0]!.at && x.s !== states[0]!.s) throw new SimViolation(`replicas ${states[0]!.id} and ${x.id} hold different states at applied index ${x.at}`);
  }
  const verdict = checkHistory(history.history());
  if (verdict.valid !== true) {
    const bad = verdict.keys.find((k) => k.valid !== true);
    throw new SimViolation(`linearizability (${verdict.valid}) on key ${bad?.key}:\n${bad?.report ?? ''}`);
  }
  const disks = [...cluster.nodes.values()].map((nd) => nd.disk.stats);
  return {
    nodes: n,
    events: driver.events,
    virtualMs: Math.round(clock.now()),
    ops: history.history().length,
    okWrites,
    okReads,
    crashes: cluster.stats.crashes,
    restarts: cluster.stats.restarts,
    leaders: cluster.stats.leaders,
    maxCommit: cluster.stats.maxCommit,
    snapshotsRestored: cluster.stats.snapshotsRestored,
    partitions: nemesis.stats.partitions,
    tornWrites: disks.reduce((a, d) => a + d.tornWrites, 0),
    lostBatches: disks.reduce((a, d) => a + d.lostBatches, 0),
  };
}


