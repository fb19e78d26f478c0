// Owns the meta-root + coordinator scenario of the whole-stack simulator: three meta-root replicas (the rooted
// state machine with Eunomia on the production raft host, meta-root-world.ts) and three coordinator
// processes, each running the production root-view actor and lease holder actor (src/coordinator/root-view.ts,
// holder.ts, holder-actor.ts) in an actor system on its own process clock. The holders campaign, renew,
// release on a clean stop, hand over on request, and serve TSO and ID windows to clients; the nemesis
// crashes and restarts meta-root replicas and coordinators and partitions the network (coordinators
// included). Checked, beyond the raft checkers of host-cluster.ts:
//   - eras: along the rooted log an era only grows, and an era belongs to one holder, ever;
//   - a value is served only under an era rooted for the coordinator that served it;
//   - TSO: no timestamp served twice, and one served after another completed (real time) is greater;
//   - IDs: no ID served twice;
//   - all replicas hold the same rooted state at the same applied index; after healing, TSO is served again.
// Coordinator clocks are offset by up to ±150 ms (rate 1 ± 0.1 %): within the skew margin (500 ms) the
// lease design assumes. Beyond it the design promises nothing, so the simulator does not go there.
import { ActorSystem } from '../../src/actors/index.js';
import { SeededPrng } from '../../src/common/prng.js';
import { silentLogger } from '../../src/common/log.js';
import { ProcessClock, SimClock } from '../../src/sim/sim-clock.js';
import { LeaseHolder } from '../../src/coordinator/holder.js';
import { leaseTiming } from '../../src/coordinator/lease.js';
import { RootViewHandle } from '../../src/coordinator/root-view.js';
import { ROOT_GROUP_ID } from '../../src/metaroot/limits.js';
import { decodeCommand, encodeSnapshot } from '../../src/metaroot/state/index.js';
import { HostCluster, SimViolation, type InjectedBug } from './host-cluster.js';
import { makeMetaReplica, RetryRecorder, SimRootPort, type MetaSm } from './meta-root-world.js';
import { Nemesis, describeFaults, type NemesisConfig } from './nemesis.js';
import { SimDriver } from './sim-driver.js';
import { SimNetwork } from './sim-network.js';

export interface MetaSeedOptions {
  seed: number;
  verbose?: boolean;
  bug?: InjectedBug;
  out?: (line: string) => void;
  safetyMs?: number;
}

export interface MetaStats {
  events: number;
  eras: number;
  tsoServed: number;
  idsServed: number;
  coordCrashes: number;
  coordStops: number;
  handovers: number;
  rootCrashes: number;
  leaders: number;
  /** Attempts and backoffs of the coordinators' root calls (the production retry loop on process clocks). */
  rootAttempts: number;
  rootBackoffs: number;
  /** Fingerprint of every root-call attempt's virtual time, in order: equal runs retried on the same schedule. */
  retrySchedule: string;
}

/** Virtual time starts at a realistic Unix time: tenures and TSO values carry wall-clock milliseconds. */
const EPOCH_MS = 1_800_000_000_000;
const DEFAULT_SAFETY_MS = 12_000;
const LIVENESS_BUDGET_MS = 20_000;
const COORDINATORS = ['coord-1', 'coord-2', 'coord-3'];
const COORD_NET_BASE = 100;
const MAX_CLOCK_OFFSET_MS = 150;
const VIEW_DEADLINE_MS = 5_000;

interface Served {
  duty: 'tso' | 'id';
  first: bigint;
  last: bigint;
  era: number;
  coord: string;
  invokedAt: number;
  completedAt: number;
}

interface CoordInc {
  clock: ProcessClock;
  actors: ActorSystem;
  ports: SimRootPort[];
  holder: LeaseHolder;
}

interface Coord {
  id: string;
  netId: number;
  offsetMs: number;
  rate: number;
  inc?: CoordInc;
  starting: boolean;
  stopping: boolean;
  restartAt?: number;
}

export async function runMetaScenario(o: MetaSeedOptions): Promise<MetaStats> {
  const log = (line: string) => {
    if (o.verbose) (o.out ?? console.log)(`[meta ${(world.now() - EPOCH_MS).toFixed(1)} ms] ${line}`);
  };
  const root = new SeededPrng(o.seed ^ 0x5eed);
  const world = new SimClock(EPOCH_MS);
  const net = new SimNetwork(world, root.fork(), { lossP: root.next() * 0.05, dupP: root.next() * 0.03, minDelayMs: 0.1, maxDelayMs: 0.5 + root.next() * 10 });
  const cfg: NemesisConfig = {
    crashP: root.next() * 0.05,
    stopP: root.next() * 0.01,
    partitionP: root.next() * 0.05,
    transferP: root.next() * 0.02,
    crashAfterSyncP: root.next() * 0.005,
    crashBeforeSyncP: root.next() * 0.005,
  };
  const coordCrashP = root.next() * 0.03;
  const coordStopP = root.next() * 0.02;
  const handoverP = root.next() * 0.02;
  const timing = leaseTiming(3_000, 1_000);
  const ownerDriven = root.chance(0.75);
  const stats: MetaStats = { events: 0, eras: 0, tsoServed: 0, idsServed: 0, coordCrashes: 0, coordStops: 0, handovers: 0, rootCrashes: 0, leaders: 0, rootAttempts: 0, rootBackoffs: 0, retrySchedule: '' };
  const retries = new RetryRecorder();

  // ---- era checker: on every replica, in log order ------------------------------------------------------
  const eraHolder = new Map<number, string>();
  const cluster: HostCluster<MetaSm> = new HostCluster<MetaSm>({
    clock: world,
    net,
    prng: root.fork(),
    groupId: ROOT_GROUP_ID,
    voters: [1, 2, 3],
    makeStateMachine: (nodeId) => {
      const sm = makeMetaReplica();
      if (o.bug === 'root-fence-not-kept') breakFences(sm);
      let lastEra = -1;
      sm.listen({
        applied: () => {
          const t = sm.state.tenure;
          if (t.era < lastEra) cluster.fail(`eras: replica ${nodeId} went from era ${lastEra} back to ${t.era}`);
          lastEra = t.era;
          if (t.era === 0) return;
          const h = eraHolder.get(t.era);
          if (h === undefined) {
            eraHolder.set(t.era, t.holder_id);
            log(`era ${t.era} rooted for ${t.holder_id}`);
          } else if (h !== t.holder_id) cluster.fail(`eras: era ${t.era} was rooted for ${h} and for ${t.holder_id}`);
        },
        restored: (state) => {
          lastEra = state.tenure.era;
        },
      });
      return sm;
    },
    tickMs: 10,
    electionTimeoutTicks: 10 + root.int(10),
    heartbeatTimeoutTicks: 2,
    snapshotEveryEntries: 20 + root.int(200),
    compactionSlackEntries: root.int(30),
    maxSyncMs: 0.2 + root.next() * 5,
    crashAfterSyncP: () => (nemesis.active ? cfg.crashAfterSyncP : 0),
    crashBeforeSyncP: () => (nemesis.active ? cfg.crashBeforeSyncP : 0),
    driftMax: 0.02,
    bug: o.bug,
    ownerDriven,
    log,
  });
  const driver = new SimDriver(world, () => cluster.check());
  const nemesis: Nemesis<MetaSm> = new Nemesis(cluster, net, driver, root.fork(), cfg, log, COORDINATORS.map((_, i) => COORD_NET_BASE + i + 1));
  log(`seed ${o.seed}: meta-root ×3 (${ownerDriven ? 'owner-driven' : 'self-driven'}), coordinators ×3, network ${JSON.stringify(net.faults)}, ${describeFaults(cfg)}, coordinator crash ${coordCrashP.toFixed(3)} stop ${coordStopP.toFixed(3)} handover ${handoverP.toFixed(3)}`);

  // ---- coordinators ----------------------------------------------------------------------------------------
  const coordPrng = root.fork();
  const coords = new Map<string, Coord>(
    COORDINATORS.map((id, i) => [id, { id, netId: COORD_NET_BASE + i + 1, offsetMs: (coordPrng.next() * 2 - 1) * MAX_CLOCK_OFFSET_MS, rate: 1 + (coordPrng.next() * 2 - 1) * 0.001, starting: false, stopping: false }]),
  );

  const startCoord = async (c: Coord): Promise<void> => {
    if (c.inc || c.starting || c.stopping) return;
    c.starting = true;
    c.restartAt = undefined;
    const clock = new ProcessClock(world, c.rate, c.offsetMs);
    const actors = await ActorSystem.start({ role: 'coordinator', node: c.id, workers: 0, clock, logger: silentLogger(), idPrefix: c.id });
    const leasePort = new SimRootPort(c.netId, cluster, net, world, clock, coordPrng.fork(), { deadlineMs: timing.renewBeforeMs, attemptTimeoutMs: Math.max(100, Math.floor(timing.renewBeforeMs / 2)) }, retries);
    const viewPort = new SimRootPort(c.netId, cluster, net, world, clock, coordPrng.fork(), { deadlineMs: VIEW_DEADLINE_MS, attemptTimeoutMs: 1_000 }, retries);
    const view = new RootViewHandle(actors, viewPort);
    await view.childSpec().start();
    const holder: LeaseHolder = new LeaseHolder({
      selfId: c.id,
      timing,
      root: leasePort,
      view,
      actors,
      prng: coordPrng.fork(),
      takeOverPeer: (to, legacyEra) =>
        new Promise((resolve, reject) => {
          // A coordinator-to-coordinator call over the network; a lost leg is a failed call.
          const peer = coords.get(to);
          let settled = false;
          const t = clock.setTimer(5_000, () => !settled && ((settled = true), reject(new Error('take-over call timed out'))));
          net.rpc(c.netId, peer?.netId ?? 0, () => {
            const target = peer?.inc;
            if (!target) return;
            target.holder.takeOver(legacyEra).then(
              (r) => net.rpc(peer!.netId, c.netId, () => !settled && ((settled = true), t.cancel(), resolve(r))),
              (err: unknown) => net.rpc(peer!.netId, c.netId, () => !settled && ((settled = true), t.cancel(), reject(err))),
            );
          });
        }),
    });
    await holder.start();
    c.starting = false;
    c.inc = { clock, actors, ports: [leasePort, viewPort], holder };
    log(`${c.id} up (clock offset ${c.offsetMs.toFixed(0)} ms)`);
  };

  const crashCoord = (c: Coord): void => {
    const inc = c.inc;
    if (!inc) return;
    log(`crash ${c.id}`);
    stats.coordCrashes++;
    c.inc = undefined;
    inc.clock.kill();
    for (const p of inc.ports) p.kill();
    c.restartAt = world.now() + coordPrng.next() * 3_000;
  };

  const stopCoord = async (c: Coord): Promise<void> => {
    const inc = c.inc;
    if (!inc) return;
    log(`stop ${c.id} (releases its era)`);
    stats.coordStops++;
    c.inc = undefined;
    c.stopping = true;
    try {
      await inc.holder.stop();
      await inc.actors.shutdown();
    } finally {
      inc.clock.kill();
      for (const p of inc.ports) p.kill();
      c.stopping = false;
      c.restartAt = world.now() + coordPrng.next() * 3_000;
    }
  };

  let coordFaults = true;
  const coordNemesis = (): void => {
    world.setTimer(100, coordNemesis);
    const now = world.now();
    for (const c of coords.values()) {
      if (!c.inc && !c.starting && !c.stopping && c.restartAt !== undefined && c.restartAt <= now) driver.spawn(`start ${c.id}`, () => startCoord(c));
    }
    if (!coordFaults) return;
    const live = [...coords.values()].filter((c) => c.inc);
    if (live.length === 0) return;
    const pick = live[coordPrng.int(live.length)]!;
    if (coordPrng.chance(coordCrashP)) crashCoord(pick);
    else if (coordPrng.chance(coordStopP)) driver.spawn(`stop ${pick.id}`, () => stopCoord(pick));
    else if (coordPrng.chance(handoverP)) {
      const to = COORDINATORS.filter((id) => id !== pick.id)[coordPrng.int(COORDINATORS.length - 1)]!;
      stats.handovers++;
      log(`${pick.id}: handover to ${to} requested`);
      pick.inc!.holder.handover(to).then(
        (r) => log(`handover ${pick.id} -> ${to}: ${JSON.stringify(r)}`),
        (err: Error) => log(`handover ${pick.id} -> ${to} failed: ${err.message}`),
      );
    }
  };

  // ---- clients ---------------------------------------------------------------------------------------------
  const served: Served[] = [];
  const clientPrng = root.fork();
  let clientsOn = true;
  let lastTsoAt = 0;
  const client = (): void => {
    if (!clientsOn) return;
    world.setTimer(5 + clientPrng.next() * 40, client);
    const live = [...coords.values()].filter((c) => c.inc);
    if (live.length === 0) return;
    const c = live[clientPrng.int(live.length)]!;
    const duty = clientPrng.chance(0.6) ? 'tso' : 'id';
    const count = 1 + clientPrng.int(clientPrng.chance(0.1) ? 5_000 : 20);
    const invokedAt = world.now();
    c.inc!.holder.allocate(duty, count).then(
      (a) => {
        served.push({ duty, first: a.first, last: a.first + BigInt(count) - 1n, era: a.era, coord: c.id, invokedAt, completedAt: world.now() });
        if (duty === 'tso') lastTsoAt = world.now();
      },
      () => undefined, // not the holder, no quorum, a deadline: nothing was served
    );
  };

  for (const id of cluster.nodes.keys()) driver.spawn(`start meta-root ${id}`, () => cluster.start(id));
  for (const c of coords.values()) driver.spawn(`start ${c.id}`, () => startCoord(c));
  world.setTimer(100, coordNemesis);
  for (let i = 0; i < 3; i++) world.setTimer(200 + i, client);
  nemesis.begin();

  await driver.runUntil(EPOCH_MS + (o.safetyMs ?? DEFAULT_SAFETY_MS));
  log('liveness phase: every fault healed');
  nemesis.end();
  coordFaults = false;
  for (const c of coords.values()) c.restartAt = c.restartAt === undefined ? undefined : world.now();
  const healedAt = world.now();
  const live = await driver.runUntil(healedAt + LIVENESS_BUDGET_MS, () => lastTsoAt > healedAt + 500 && cluster.live().length === 3);
  if (!live) throw new SimViolation(`liveness: no TSO served within ${LIVENESS_BUDGET_MS} ms after healing (eras ${[...eraHolder].map(([e, h]) => `${e}:${h}`).join(' ')})`);
  clientsOn = false;
  const converged = await driver.runUntil(world.now() + LIVENESS_BUDGET_MS, () => {
    const l = cluster.leader();
    if (!l || cluster.live().length !== 3) return false;
    const c = l.inc!.group.status().commitIndex;
    return cluster.live().every((n) => n.inc!.group.status().appliedIndex === c);
  });
  if (!converged) throw new SimViolation('liveness: meta-root replicas did not converge after healing');

  // ---- final checks ----------------------------------------------------------------------------------------
  const states = cluster.live().map((n) => ({ id: n.id, at: n.inc!.group.status().appliedIndex, s: Buffer.from(encodeSnapshot(n.inc!.sm.state)).toString('base64') }));
  for (const x of states) if (x.at === states[0]!.at && x.s !== states[0]!.s) throw new SimViolation(`rooted state: replicas ${states[0]!.id} and ${x.id} differ at applied index ${x.at}`);
  checkServed(served, eraHolder);
  for (const c of coords.values()) {
    const inc = c.inc;
    if (!inc) continue;
    // The processes end: their timers die with them (no clean stop, the run is over).
    inc.clock.kill();
    for (const p of inc.ports) p.kill();
  }
  stats.events = driver.events;
  stats.eras = eraHolder.size;
  stats.tsoServed = served.filter((s) => s.duty === 'tso').length;
  stats.idsServed = served.filter((s) => s.duty === 'id').length;
  stats.rootCrashes = cluster.stats.crashes;
  stats.leaders = cluster.stats.leaders;
  stats.rootAttempts = retries.attempts;
  stats.rootBackoffs = retries.backoffs;
  stats.retrySchedule = retries.digest();
  return stats;
}

/**
 * The injected state-machine bug: a fence command is answered from the state it produced, but the replica
 * keeps the fences it had (every replica alike, so they still agree with each other). A holder then serves a
 * window that is not rooted, and the next era starts below values already served.
 */
function breakFences(sm: MetaSm): void {
  const apply = sm.apply.bind(sm);
  sm.apply = (e) => {
    const before = sm.state;
    const out = apply(e);
    const cmd = decodeCommand(e.data) as { type?: string };
    if (cmd.type === 'fence' && out.accepted) {
      (sm as unknown as { current: typeof before }).current = { ...sm.state, id_fence: before.id_fence, tso_fence: before.tso_fence };
    }
    return out;
  };
}

/** TSO: unique and increasing in real-time order; IDs: unique; each under an era rooted for its server. */
function checkServed(served: Served[], eraHolder: Map<number, string>): void {
  for (const s of served) {
    const h = eraHolder.get(s.era);
    if (h !== s.coord) throw new SimViolation(`${s.coord} served ${s.duty} ${s.first}..${s.last} under era ${s.era}, which is rooted for ${h ?? 'nobody'}`);
  }
  for (const duty of ['tso', 'id'] as const) {
    const xs = served.filter((s) => s.duty === duty).sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
    for (let i = 1; i < xs.length; i++) {
      if (xs[i]!.first <= xs[i - 1]!.last) {
        throw new SimViolation(`${duty}: ${xs[i - 1]!.coord} (era ${xs[i - 1]!.era}) served ${xs[i - 1]!.first}..${xs[i - 1]!.last} and ${xs[i]!.coord} (era ${xs[i]!.era}) served ${xs[i]!.first}..${xs[i]!.last}: a value served twice`);
      }
    }
  }
  // Real-time order: a timestamp requested after another was returned must be greater.
  const tso = served.filter((s) => s.duty === 'tso');
  const byCompletion = [...tso].sort((a, b) => a.completedAt - b.completedAt);
  const byInvoke = [...tso].sort((a, b) => a.invokedAt - b.invokedAt);
  let j = 0;
  let maxDone: Served | undefined;
  for (const b of byInvoke) {
    while (j < byCompletion.length && byCompletion[j]!.completedAt < b.invokedAt) {
      const a = byCompletion[j++]!;
      if (!maxDone || a.last > maxDone.last) maxDone = a;
    }
    if (maxDone && b.first <= maxDone.last) {
      throw new SimViolation(`tso: ${b.coord} (era ${b.era}) served ${b.first} after ${maxDone.coord} (era ${maxDone.era}) had returned ${maxDone.last}: timestamps went backwards`);
    }
  }
}
