// Jepsen-style chaos test of the transactional KV on three real store processes: clients read, write and
// compare-and-set a handful of keys in both regions while a seeded nemesis kills region leaders, pauses
// stores, isolates one store's raft links, makes every link lossy and moves region leaders by raft leader
// transfer, as the coordinator's leader balance does (each fault healed before the next);
// then a quiet phase. It proves: every key's history is linearizable (indeterminate operations may or may not
// have applied), no acknowledged write is lost (final reads are part of the checked history, and the last
// acknowledged write of a key is what the final read returns), and both regions serve again after healing.
//
// About 45 s by default (30 s of faults: one round of the five kinds takes 20-28 s on a loaded machine). NOKV_CHAOS_SEED=N replays a nemesis schedule; NOKV_CHAOS_SECONDS=600 is the soak
// (scripts/chaos-soak.sh); NOKV_CHAOS_HISTORY=FILE writes the recorded history as JSON.
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { SeededPrng } from '../../src/common/prng.js';
import { startChaosStoreCluster, type ChaosStoreCluster } from '../fixtures/chaos-store-cluster.js';
import { storePlacements } from '../fixtures/store-cluster.js';
import { sleep, waitFor } from '../support/env.js';
import { HistoryRecorder, describeOp, type Operation, type RegisterValue } from './lib/history.js';
import { KvWorkload, OP_BUDGET_MS } from './lib/kv-workload.js';
import { checkHistory } from './lib/linearizability.js';
import { FAULT_KINDS, Nemesis } from './lib/nemesis.js';

const CHAOS_SECONDS = Number(process.env.NOKV_CHAOS_SECONDS ?? 30);
/** How far past CHAOS_SECONDS the nemesis may go to inject every fault kind once on a slow machine. */
const EXTRA_FAULT_MS = 60_000;
const SEED = process.env.NOKV_CHAOS_SEED ? Number(process.env.NOKV_CHAOS_SEED) : (Date.now() % 1_000_000) + 1;
/** Three keys below the bootstrap split key `m` (region 1) and three above it (region 2). */
const KEYS = ['c/1', 'f/2', 'j/3', 'n/4', 'r/5', 'x/6'];
const PROCESSES = 6;
/** Load keeps running this long after the last fault is healed. */
const QUIET_MS = 3_000;
/** After healing, each region must commit a write within this long. */
const RECOVERY_BUDGET_MS = 15_000;
const FINAL_READ_ATTEMPTS = 20;
/** The process number final reads are recorded under (no client uses it). */
const FINAL_READER = 1_000;

function lastAcknowledgedWrite(ops: Operation[]): Operation | undefined {
  // The acknowledged write that completed last, if no other write could have landed after it: a write
  // invoked after it completed, or an indeterminate one, may legitimately be the final value instead.
  const writes = ops.filter((o) => (o.f === 'write' || (o.f === 'cas' && o.swapped !== false)) && o.outcome !== 'fail');
  const acked = writes.filter((o) => o.outcome === 'ok').sort((a, b) => b.completeAt! - a.completeAt!)[0];
  if (!acked) return undefined;
  const overtaken = writes.some((o) => o !== acked && (o.outcome === 'info' || o.completeAt! > acked.invokeAt));
  return overtaken ? undefined : acked;
}

for (const workers of storePlacements([2])) describe(`KV chaos: linearizable registers through leader kills, pauses, partitions and lossy links (--workers ${workers})`, function () {
  this.timeout(CHAOS_SECONDS * 1_000 + EXTRA_FAULT_MS + 90_000);
  let cluster: ChaosStoreCluster | undefined;

  before(async function () {
    this.timeout(60_000);
    cluster = await startChaosStoreCluster(['--workers', String(workers)]);
  });

  after(async function () {
    this.timeout(30_000);
    await cluster?.stop();
  });

  it('keeps every key linearizable, loses no acknowledged write, and serves again once healed', async () => {
    const c = cluster!;
    const t0 = Date.now();
    console.log(`      chaos seed ${SEED} (reproduce with NOKV_CHAOS_SEED=${SEED}), ${CHAOS_SECONDS} s of faults`);
    const recorder = new HistoryRecorder();
    const workload = new KvWorkload({ client: c.client, recorder, keys: KEYS, processes: PROCESSES, prng: new SeededPrng(SEED ^ 0x5eed) });
    const nemesis = new Nemesis(c, SEED, process.env.NOKV_CHAOS_VERBOSE ? (l) => console.log(`      +${Date.now() - t0} ms ${l}`) : undefined);
    let healedAt = 0;
    const recovery: Record<string, number> = {};
    try {
      workload.start();
      // Every kind at least once when the run is long enough for a round (up to EXTRA_FAULT_MS past it).
      await nemesis.run(t0 + CHAOS_SECONDS * 1_000, CHAOS_SECONDS >= 20 ? { atLeast: FAULT_KINDS.length, hardStopMs: t0 + CHAOS_SECONDS * 1_000 + EXTRA_FAULT_MS } : {});
      await nemesis.healAll();
      healedAt = Date.now();
      // Serving again: one committed write and a read of it in each region, under load.
      for (const key of ['b/probe', 'y/probe']) {
        await waitFor(`a committed write to ${key} after healing`, async () => {
          const txn = await c.client.begin();
          txn.put(Buffer.from(key), Buffer.from('after-heal'));
          await txn.commit();
          return (await c.client.get(Buffer.from(key)))?.toString() === 'after-heal';
        }, RECOVERY_BUDGET_MS, 100);
        recovery[key] = Date.now() - healedAt;
      }
      await sleep(QUIET_MS);
    } finally {
      nemesis.stop();
      await workload.stop();
      await nemesis.healAll().catch(() => undefined);
    }

    const finals = new Map<string, RegisterValue | undefined>();
    for (const key of KEYS) finals.set(key, await workload.finalRead(FINAL_READER, key, FINAL_READ_ATTEMPTS));
    await workload.drain(OP_BUDGET_MS);
    const history = recorder.history();
    if (process.env.NOKV_CHAOS_HISTORY) writeFileSync(process.env.NOKV_CHAOS_HISTORY, JSON.stringify({ seed: SEED, events: nemesis.events, history }, null, 1));

    const tCheck = Date.now();
    const verdict = checkHistory(history);
    const checkMs = Date.now() - tCheck;
    const kinds = new Set(nemesis.events.map((e) => e.kind));
    console.log(
      `      ${history.length} ops (ok ${workload.stats.ok}, fail ${workload.stats.fail}, info ${workload.stats.info}); ` +
        `${nemesis.events.length} faults (${[...kinds].join(', ')}); recovery ${JSON.stringify(recovery)} ms; checked in ${checkMs} ms`,
    );

    const bad = verdict.keys.filter((k) => k.valid !== true);
    const timeline = nemesis.events.map((e) => `${e.kind} store ${e.target} +${e.startMs - t0}..+${e.healedMs - t0} ms`).join('; ');
    const explain = bad
      .map((k) => `${k.report ?? `key ${k.key}: ${k.valid}`}${k.culprit ? `\n  culprit invoked at +${k.culprit.invokeMs - t0} ms` : ''}`)
      .join('\n');
    expect(verdict.valid, `seed ${SEED} (reproduce with NOKV_CHAOS_SEED=${SEED})\n${explain}\nfaults: ${timeline}`).to.equal(true);

    for (const key of KEYS) {
      const ops = history.filter((o) => o.key === key && o.process !== FINAL_READER);
      expect(finals.get(key), `final read of ${key} never succeeded`).to.not.equal(undefined);
      const last = lastAcknowledgedWrite(ops);
      if (last) expect(finals.get(key), `${key}: the last acknowledged write ${describeOp(last)} was lost (seed ${SEED})`).to.equal(last.f === 'write' ? last.value : last.to);
    }
    // The run really exercised something: most operations went through, and the nemesis did its rounds.
    expect(workload.stats.ok, 'acknowledged operations').to.be.greaterThan(100);
    if (CHAOS_SECONDS >= 20) expect(kinds.size, 'fault kinds injected').to.equal(FAULT_KINDS.length);
    if (kinds.has('transfer-leader')) expect(nemesis.events.reduce((n, e) => n + (e.transfers ?? 0), 0), 'leader transfers started').to.be.greaterThan(0);
  });
});
