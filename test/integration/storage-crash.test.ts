// Kill -9 test of the raft log store: a child appends to several groups and prints each write only after
// persist() resolved; we SIGKILL it at random moments and, after every kill, reopen the environment and check
// that every acknowledged write is there, logs are contiguous, and hard state is consistent.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { SeededPrng } from '../../src/common/prng.js';
import { trackResource } from '../../src/common/resources.js';
import { openRaftLogStore, openStorage } from '../../src/storage/index.js';
import { entryDataMatches, parseAckLine, snapshotData } from '../fixtures/storage-crash-format.js';
import { makeTempDir, sleep } from '../support/env.js';

const CHILD = fileURLToPath(new URL('../fixtures/storage-crash-child.js', import.meta.url));
const ROUNDS = 20;
const GROUPS = 5;
const TIME_BUDGET_MS = 30_000;
const MIN_ROUNDS = 5;

interface GroupModel {
  /** Latest acknowledged term per index (an acknowledged overwrite replaces the suffix from its first index). */
  acked: Map<number, number>;
  hsTerm: number;
  hsCommit: number;
  snapIndex: number;
  compactedTo: number;
}

function applyAck(models: Map<number, GroupModel>, line: string): void {
  const a = parseAckLine(line);
  if (!a || a.kind === 'ready') return;
  const m = models.get(a.group)!;
  if (a.kind === 'ack') {
    for (const i of [...m.acked.keys()]) if (i >= a.from) m.acked.delete(i);
    for (let i = a.from; i <= a.to; i++) m.acked.set(i, a.term);
    m.hsTerm = a.hsTerm;
    m.hsCommit = a.hsCommit;
  } else if (a.kind === 'snap') {
    m.snapIndex = Math.max(m.snapIndex, a.index);
  } else {
    m.compactedTo = Math.max(m.compactedTo, a.index);
    for (const i of [...m.acked.keys()]) if (i <= a.index) m.acked.delete(i);
  }
}

/** Runs the child until `killAfterMs` after it is ready, SIGKILLs it, and returns every line it printed. */
async function runAndKill(dir: string, seed: number, killAfterMs: number): Promise<string[]> {
  const child: ChildProcess = spawn(process.execPath, [CHILD, dir, String(seed), String(GROUPS)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const untrack = trackResource({ kind: 'process', description: `storage crash child pid ${child.pid}` });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  try {
    let buf = '';
    let stderr = '';
    const lines: string[] = [];
    let ready!: () => void;
    const isReady = new Promise<void>((r) => (ready = r));
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        lines.push(line);
        if (line === 'ready') ready();
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    await Promise.race([isReady, exited.then(() => Promise.reject(new Error(`child exited before ready: ${stderr}`)))]);
    await sleep(killAfterMs);
    child.kill('SIGKILL');
    await exited; // 'close' fires after stdout ended, so every printed line has been read
    expect(lines.filter((l) => l.startsWith('error')), stderr).to.deep.equal([]);
    return lines;
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    untrack();
  }
}

async function checkRecovered(dir: string, models: Map<number, GroupModel>, seed: number, round: number): Promise<void> {
  const storage = openStorage({ path: dir });
  const at = `seed ${seed} round ${round}`;
  try {
    const store = openRaftLogStore(storage);
    for (const [g, m] of models) {
      const log = store.groupLog(g);
      const first = log.firstIndex();
      const last = log.lastIndex();
      const entries = last >= first ? log.entries(first, last + 1) : [];
      expect(entries.map((e) => e.index), `${at}: group ${g} contiguous`).to.deep.equal(
        Array.from({ length: last - first + 1 }, (_, k) => first + k),
      );
      let prevTerm = log.term(first - 1);
      for (const e of entries) {
        expect(entryDataMatches(e.data, g, e.index, e.term), `${at}: group ${g} entry ${e.index} content`).to.equal(true);
        expect(e.term, `${at}: group ${g} terms never decrease`).to.be.at.least(prevTerm);
        prevTerm = e.term;
      }
      for (const [i, term] of m.acked) {
        expect(i, `${at}: group ${g} acknowledged entry ${i} within the log`).to.be.at.most(last);
        if (i < first) {
          expect(i, `${at}: group ${g} compacted entry ${i} covered by the snapshot`).to.be.at.most(log.snapshot().meta.index);
          continue;
        }
        expect(log.term(i), `${at}: group ${g} acknowledged entry ${i} kept its term or a later one`).to.be.at.least(term);
      }
      const { hardState } = log.initialState();
      expect(hardState.term, `${at}: group ${g} hard state term`).to.be.at.least(m.hsTerm);
      expect(hardState.commit, `${at}: group ${g} hard state commit`).to.be.at.least(m.hsCommit);
      expect(hardState.commit, `${at}: group ${g} commit within the log`).to.be.at.most(last);
      expect(hardState.term, `${at}: group ${g} hard state term covers the log`).to.be.at.least(last >= first ? log.term(last) : 0);
      const snap = log.snapshot();
      expect(snap.meta.index, `${at}: group ${g} snapshot`).to.be.at.least(m.snapIndex);
      expect(first - 1, `${at}: group ${g} compaction point`).to.be.at.least(m.compactedTo).and.at.most(snap.meta.index);
      if (snap.meta.index > 0) expect(Buffer.from(snap.data).equals(snapshotData(g, snap.meta.index)), `${at}: snapshot data`).to.equal(true);
    }
  } finally {
    await storage.close();
  }
}

describe('storage crash recovery (kill -9)', function () {
  this.timeout(TIME_BUDGET_MS + 20_000);

  it('keeps every acknowledged entry, snapshot and hard state across repeated SIGKILLs', async () => {
    const seed = Number(process.env.NOKV_SEED) || (Date.now() % 1_000_000) + 1;
    console.log(`    storage crash test seed ${seed} (reproduce with NOKV_SEED=${seed})`);
    const prng = new SeededPrng(seed);
    const tmp = makeTempDir('nokv-crash-');
    const dir = join(tmp.path, 'env');
    const models = new Map<number, GroupModel>();
    for (let g = 1; g <= GROUPS; g++) models.set(g, { acked: new Map(), hsTerm: 0, hsCommit: 0, snapIndex: 0, compactedTo: 0 });
    const started = Date.now();
    let acks = 0;
    let rounds = 0;
    try {
      for (let round = 0; round < ROUNDS; round++) {
        if (round >= MIN_ROUNDS && Date.now() - started > TIME_BUDGET_MS) break;
        const lines = await runAndKill(dir, seed * 1000 + round, 20 + prng.int(250));
        for (const l of lines) applyAck(models, l);
        acks += lines.filter((l) => l.startsWith('ack')).length;
        await checkRecovered(dir, models, seed, round);
        rounds++;
      }
      console.log(`    ${rounds} kills, ${acks} acknowledged appends checked`);
      expect(acks, 'the child made progress').to.be.greaterThan(rounds);
    } finally {
      tmp.remove();
    }
  });
});
