// Crash safety of the raft host on real LMDB: three node processes, clients writing through the leader, and
// a seeded schedule of SIGKILLs (any node, often the leader, once all three at once) each followed by a
// restart. Afterwards every acknowledged write must be readable through a read barrier on every node, the
// nodes' states must be identical, and their applied histories (index → key) must agree wherever they overlap.
//
// Longer run: NOKV_RAFT_CRASH_KILLS=60 NOKV_RAFT_CRASH_BUDGET_MS=300000 npx mocha dist/test/integration/raft-crash.test.js
// Replay a schedule: NOKV_RAFT_CRASH_SEED=<seed printed by a run>.
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { SeededPrng } from '../../src/common/prng.js';
import { freePorts, makeTempDir, sleep, waitFor } from '../support/env.js';
import { callNode, startNode, stopNode, type NodeProc } from '../fixtures/raft-procs.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/raft-kv-node.js', import.meta.url));
const KILLS = Number(process.env.NOKV_RAFT_CRASH_KILLS ?? 16);
/** Wall-clock budget of the kill phase; the schedule stops early rather than overrun it (after the all-three round). */
const KILL_PHASE_BUDGET_MS = Number(process.env.NOKV_RAFT_CRASH_BUDGET_MS ?? 40_000);
const SEED = Number(process.env.NOKV_RAFT_CRASH_SEED ?? Date.now() % 1_000_000_007);
const WRITERS = 4;
/** Small snapshot interval so snapshots and compaction happen between crashes too. */
const NODE_ARGS = ['--snapshot-every', '300', '--compaction-slack', '50'];

describe('raft: SIGKILL crashes on real LMDB lose no acknowledged write', function () {
  this.timeout(KILL_PHASE_BUDGET_MS + 90_000);
  let dir: ReturnType<typeof makeTempDir>;
  let nodes: NodeProc[];
  let peers: string;

  const start = (n: NodeProc) =>
    startNode(n, FIXTURE, ['--id', String(n.id), '--dir', join(dir.path, `n${n.id}`), '--peers', peers, '--http', String(n.http), ...NODE_ARGS]);

  beforeEach(async () => {
    dir = makeTempDir('nokv-raft-crash-');
    const ports = await freePorts(6);
    nodes = [1, 2, 3].map((id, i) => ({ id, http: ports[3 + i]! }));
    peers = [1, 2, 3].map((id, i) => `${id}=127.0.0.1:${ports[i]}`).join(',');
  });

  afterEach(async () => {
    await Promise.all(nodes.map((n) => stopNode(n, 'SIGKILL')));
    dir.remove();
  });

  async function leaderOf(among: NodeProc[], timeoutMs = 20_000): Promise<NodeProc> {
    return waitFor<NodeProc | undefined>('a single leader', async () => {
      const sts = await Promise.all(among.map((n) => (n.proc ? callNode(n, '/status', 1000).then((r) => r.body).catch(() => undefined) : undefined)));
      const leaders = among.filter((_, i) => sts[i]?.role === 'leader');
      return leaders.length === 1 ? leaders[0] : undefined;
    }, timeoutMs, 50) as Promise<NodeProc>;
  }

  it('acknowledged writes survive random SIGKILLs of any node, including all three at once', async () => {
    process.stdout.write(`      raft-crash seed=${SEED} kills=${KILLS} (reproduce with NOKV_RAFT_CRASH_SEED=${SEED})\n`);
    const prng = new SeededPrng(SEED);
    await Promise.all(nodes.map(start));
    await leaderOf(nodes);

    const acked = new Map<string, string>();
    let attempts = 0;
    let stopWriting = false;
    let hint = 0; // index into nodes of the believed leader
    const writer = async (w: number) => {
      for (let seq = 0; !stopWriting; seq++) {
        const key = `w${w}-${seq}`;
        const value = `${SEED}-${w}-${seq}`;
        const target = nodes[hint]!;
        attempts++;
        try {
          const r = await callNode(target, `/put/${key}/${value}`, 4000);
          if (r.status === 200) {
            acked.set(key, value);
            continue;
          }
          const leaderId = Number(r.body?.leaderId ?? 0);
          if (leaderId > 0) hint = leaderId - 1;
          else hint = (hint + 1) % nodes.length;
        } catch {
          hint = (hint + 1) % nodes.length; // down or restarting: try the next node
        }
        await sleep(20);
      }
    };
    const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));

    const phaseStart = Date.now();
    const allAtOnceRound = Math.floor(KILLS / 2);
    let kills = 0;
    let leaderKills = 0;
    let allAtOnce = false;
    try {
      for (let round = 0; round < KILLS; round++) {
        if (Date.now() - phaseStart >= KILL_PHASE_BUDGET_MS) {
          // Over budget (a saturated machine): the all-three round still runs, then the phase ends.
          if (allAtOnce) break;
          round = allAtOnceRound;
        }
        await sleep(100 + prng.int(900));
        if (round === allAtOnceRound) {
          await Promise.all(nodes.map((n) => stopNode(n, 'SIGKILL')));
          kills += 3;
          allAtOnce = true;
          await sleep(prng.int(200));
          await Promise.all(nodes.map(start));
          await leaderOf(nodes);
          continue;
        }
        const killLeader = prng.chance(0.5);
        let victim = nodes[prng.int(nodes.length)]!;
        if (killLeader) {
          victim = await leaderOf(nodes).catch(() => victim);
          leaderKills++;
        }
        await stopNode(victim, 'SIGKILL');
        kills++;
        await sleep(prng.int(400));
        await start(victim);
        // Let the cluster settle before the next kill so at most one node is down at a time.
        await leaderOf(nodes);
      }
    } finally {
      stopWriting = true;
      await Promise.all(writers);
    }
    const phaseMs = Date.now() - phaseStart;

    // Everything acknowledged before the last kill must be on every node: write a fence through the leader
    // and read each node's whole state behind a read barrier.
    const fence: number = await waitFor<number | undefined>('a fence write', async () => {
      const lead = await leaderOf(nodes);
      const r = await callNode(lead, '/put/fence/done', 4000);
      return r.status === 200 ? (r.body.index as number) : undefined;
    }, 30_000, 100) as number;
    const dumps = await Promise.all(nodes.map((n) => waitFor(`synced dump of node ${n.id}`, async () => {
      const r = await callNode(n, '/synced-dump', 4000);
      return r.status === 200 && r.body.status.appliedIndex >= fence ? r.body : undefined;
    }, 30_000, 100)));

    process.stdout.write(`      raft-crash: ${kills} kills (${leaderKills} aimed at the leader${allAtOnce ? ', one of all three' : ''}) in ${phaseMs} ms; ${acked.size} of ${attempts} writes acknowledged; fence at index ${fence}\n`);
    expect(kills, 'kills performed').to.be.greaterThan(3);
    expect(allAtOnce, 'the all-three round ran').to.equal(true);
    expect(acked.size, 'writes acknowledged').to.be.greaterThan(50);

    for (const [i, d] of dumps.entries()) {
      const missing = [...acked].filter(([k, v]) => d.data[k] !== v);
      expect(missing.slice(0, 5), `node ${nodes[i]!.id}: acknowledged writes missing or wrong (${missing.length})`).to.deep.equal([]);
      expect(d.data.fence).to.equal('done');
    }
    expect(dumps[1].data, 'node 2 state equals node 1 state').to.deep.equal(dumps[0].data);
    expect(dumps[2].data, 'node 3 state equals node 1 state').to.deep.equal(dumps[0].data);

    // Histories start at each node's last restore point; wherever two overlap they must name the same keys.
    const histories = dumps.map((d) => new Map<number, string>(d.history as Array<[number, string]>));
    for (let a = 0; a < histories.length; a++) {
      for (let b = a + 1; b < histories.length; b++) {
        let overlap = 0;
        for (const [index, key] of histories[a]!) {
          const other = histories[b]!.get(index);
          if (other === undefined) continue;
          overlap++;
          expect(other, `index ${index} on nodes ${a + 1} and ${b + 1}`).to.equal(key);
        }
        expect(overlap, `nodes ${a + 1} and ${b + 1} share applied history`).to.be.greaterThan(0);
      }
    }
  });
});
