// Owns the fault schedule of the whole-stack simulator, on virtual time and one PRNG: process crashes (losing
// unsynced writes, or tearing the last one), clean stops, restarts after a random downtime, network partitions
// (a random split, or the leader alone) healed after a random time, and leadership transfers. A crash right
// after a sync is decided by the simulated disk itself (ClusterOptions.crashAfterSyncP). end() heals
// everything and restarts every process for the liveness phase.
import type { Prng } from '../../src/common/prng.js';
import type { StateMachine } from '../../src/raft/host/replicated.js';
import { MAX_DOWN_MS, type HostCluster } from './host-cluster.js';
import type { SimDriver } from './sim-driver.js';
import type { SimNetwork } from './sim-network.js';

export interface NemesisConfig {
  /** Per nemesis step (every STEP_MS): probability of crashing one process. */
  crashP: number;
  stopP: number;
  partitionP: number;
  transferP: number;
  /** Per sync: probability the process dies right after it. */
  crashAfterSyncP: number;
  /** Per committed batch: probability the process dies before its sync completes. */
  crashBeforeSyncP: number;
}

export function describeFaults(c: NemesisConfig): string {
  return Object.entries(c).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ');
}

const STEP_MS = 50;
const MAX_PARTITION_MS = 3_000;

export class Nemesis<S extends StateMachine> {
  active = false;
  readonly stats = { partitions: 0, transfers: 0 };
  private healAt?: number;

  constructor(
    private readonly cluster: HostCluster<S>,
    private readonly net: SimNetwork,
    private readonly driver: SimDriver,
    private readonly prng: Prng,
    private readonly cfg: NemesisConfig,
    private readonly log: (line: string) => void,
    /** Other processes on the network (clients of the cluster) that partitions also place on a side. */
    private readonly extraIds: number[] = [],
  ) {}

  begin(): void {
    this.active = true;
    this.net.faultsOn = true;
    this.driver.clock.setTimer(STEP_MS, () => this.step());
  }

  /** Heals the network, restarts every process, and stops injecting faults. */
  end(): void {
    this.active = false;
    this.net.faultsOn = false;
    this.net.partition(undefined);
    this.healAt = undefined;
    for (const n of this.cluster.nodes.values()) {
      if (n.inc || n.starting) continue;
      this.driver.spawn(`restart ${n.id}`, async () => {
        // A clean stop still in progress finishes first.
        while (n.stopping) await new Promise<void>((r) => this.driver.clock.setTimer(10, r));
        await this.cluster.start(n.id);
      });
    }
  }

  private step(): void {
    if (!this.active) return;
    this.driver.clock.setTimer(STEP_MS, () => this.step());
    const rnd = this.prng;
    const now = this.driver.clock.now();
    for (const n of this.cluster.nodes.values()) {
      if (!n.inc && !n.starting && !n.stopping && n.restartAt !== undefined && n.restartAt <= now) {
        this.driver.spawn(`restart ${n.id}`, () => this.cluster.start(n.id));
      }
    }
    const live = this.cluster.live();
    if (live.length > 0 && rnd.chance(this.cfg.crashP)) {
      // At a random instant inside the step, so that crashes land between a write's commit and its sync.
      const leaderFirst = rnd.chance(0.5);
      const kind = rnd.chance(0.5) ? 'torn-last-write' : 'lose-unsynced';
      const down = rnd.next() * MAX_DOWN_MS;
      this.driver.clock.setTimer(rnd.next() * STEP_MS, () => {
        const alive = this.cluster.live();
        if (!this.active || alive.length === 0) return;
        const victim = leaderFirst ? (this.cluster.leader() ?? alive[rnd.int(alive.length)]!) : alive[rnd.int(alive.length)]!;
        this.cluster.crash(victim.id, 'nemesis', kind);
        victim.restartAt = this.driver.clock.now() + down;
      });
    } else if (live.length > 0 && rnd.chance(this.cfg.stopP)) {
      const victim = live[rnd.int(live.length)]!;
      this.driver.spawn(`stop ${victim.id}`, () => this.cluster.stop(victim.id));
    }
    if (this.healAt !== undefined && now >= this.healAt) {
      this.net.partition(undefined);
      this.healAt = undefined;
      this.log('partition healed');
    } else if (this.healAt === undefined && rnd.chance(this.cfg.partitionP)) {
      const sides = new Map<number, number>();
      const leader = this.cluster.leader();
      const isolateLeader = leader !== undefined && rnd.chance(0.4);
      for (const id of [...this.cluster.nodes.keys(), ...this.extraIds]) sides.set(id, isolateLeader ? (id === leader.id ? 1 : 0) : rnd.int(2));
      this.net.partition(sides);
      this.healAt = now + rnd.next() * MAX_PARTITION_MS;
      this.stats.partitions++;
      this.log(`partition ${JSON.stringify([...sides])}`);
    }
    if (rnd.chance(this.cfg.transferP)) {
      const leader = this.cluster.leader();
      const others = [...this.cluster.nodes.keys()].filter((id) => id !== leader?.id);
      if (leader?.inc && others.length > 0) {
        const to = others[rnd.int(others.length)]!;
        this.log(`transfer leadership ${leader.id} -> ${to}`);
        this.stats.transfers++;
        void leader.inc.run(async (g) => g.transferLeader(to));
      }
    }
  }
}
