// Owns the chaos clients: logical processes that issue single-key register operations against the store
// cluster and record every invocation and completion. A read is a snapshot Get at a fresh timestamp; a write
// and a compare-and-set are Percolator transactions (the CAS reads at its start ts and writes only on a match,
// so a write conflict makes it fail rather than swap twice). Every value written is unique.
//
// How an outcome is classified (this is what the checker trusts):
// - ok: the call returned. A CAS that found another value is an ok "no match" (a read-only transaction).
// - fail: TxnConflictError from commit — the store refused the command and wrote nothing.
// - info: anything else (UNAVAILABLE, deadline, the per-operation budget running out): it may have applied.
import { NokvError } from '../../../src/common/errors.js';
import type { Prng } from '../../../src/common/prng.js';
import { TxnConflictError, type StoreClient } from '../../../src/store/client/client.js';
import type { HistoryRecorder, PendingOp, RegisterValue } from './history.js';

/** Longest one operation may run before the client records it as indeterminate and moves on. */
export const OP_BUDGET_MS = 6_000;
/** Pause between one client's operations, so the history stays checkable and the machine stays usable. */
export const THINK_MS: [number, number] = [5, 40];

export interface WorkloadOptions {
  client: StoreClient;
  recorder: HistoryRecorder;
  keys: string[];
  processes: number;
  prng: Prng;
}

export interface WorkloadStats {
  ok: number;
  fail: number;
  info: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function withBudget<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const budget = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, budget]).finally(() => clearTimeout(timer));
}

const asValue = (b: Buffer | undefined): RegisterValue => (b === undefined ? null : b.toString('utf8'));

export class KvWorkload {
  readonly stats: WorkloadStats = { ok: 0, fail: 0, info: 0 };
  private running = false;
  private readonly loops: Promise<void>[] = [];
  /** Calls still running after their budget ran out; waited for (bounded) before the client closes. */
  private readonly stragglers = new Set<Promise<unknown>>();
  /** Per process and key: the last value it saw, the natural "expected" of its next CAS. */
  private readonly lastSeen = new Map<string, RegisterValue>();

  constructor(private readonly opts: WorkloadOptions) {}

  start(): void {
    this.running = true;
    for (let p = 0; p < this.opts.processes; p++) this.loops.push(this.loop(p, this.opts.prng.fork()));
  }

  /** Stops issuing operations and waits for the ones in flight (each is bounded by OP_BUDGET_MS). */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** Waits, at most maxMs, for calls that outlived their budget (so closing the client cuts nothing short). */
  async drain(maxMs: number): Promise<void> {
    await Promise.race([Promise.allSettled([...this.stragglers]), sleep(maxMs)]);
  }

  /** One read of key, recorded, retried until it succeeds or attempts run out. Returns the value seen. */
  async finalRead(process: number, key: string, attempts: number): Promise<RegisterValue | undefined> {
    for (let i = 0; i < attempts; i++) {
      const seen = await this.run(process, key, { f: 'read' }, async () => ({ read: asValue(await this.opts.client.get(Buffer.from(key))) }));
      if (seen.outcome === 'ok') return seen.read;
      await sleep(200);
    }
    return undefined;
  }

  private async loop(process: number, prng: Prng): Promise<void> {
    let seq = 0;
    while (this.running) {
      const key = this.opts.keys[prng.int(this.opts.keys.length)]!;
      const roll = prng.int(10);
      if (roll < 4) await this.read(process, key);
      else if (roll < 7) await this.write(process, key, `p${process}-${seq++}`);
      else await this.cas(process, key, this.expectation(process, key, prng), `p${process}-${seq++}`);
      await sleep(THINK_MS[0] + prng.int(THINK_MS[1] - THINK_MS[0] + 1));
    }
  }

  private expectation(process: number, key: string, prng: Prng): RegisterValue {
    const mine = this.lastSeen.get(`${process}/${key}`);
    if (mine !== undefined && prng.chance(0.8)) return mine;
    // Sometimes another process's view, so CASes also race on stale expectations.
    const other = this.lastSeen.get(`${prng.int(this.opts.processes)}/${key}`);
    return other === undefined ? null : other;
  }

  private async read(process: number, key: string): Promise<void> {
    const op = await this.run(process, key, { f: 'read' }, async () => ({ read: asValue(await this.opts.client.get(Buffer.from(key))) }));
    if (op.outcome === 'ok') this.lastSeen.set(`${process}/${key}`, op.read ?? null);
  }

  private async write(process: number, key: string, value: string): Promise<void> {
    const op = await this.run(process, key, { f: 'write', value }, async () => {
      const txn = await this.opts.client.begin();
      txn.put(Buffer.from(key), Buffer.from(value));
      await txn.commit();
      return {};
    });
    if (op.outcome === 'ok') this.lastSeen.set(`${process}/${key}`, value);
  }

  private async cas(process: number, key: string, from: RegisterValue, to: string): Promise<void> {
    const op = await this.run(process, key, { f: 'cas', from, to }, async () => {
      const txn = await this.opts.client.begin();
      const current = asValue(await txn.get(Buffer.from(key)));
      if (current !== from) {
        this.lastSeen.set(`${process}/${key}`, current);
        return { swapped: false };
      }
      txn.put(Buffer.from(key), Buffer.from(to));
      await txn.commit();
      return { swapped: true };
    });
    if (op.outcome === 'ok' && op.swapped) this.lastSeen.set(`${process}/${key}`, to);
  }

  /** Invokes, runs under the budget, and completes the operation exactly once. */
  private async run(
    process: number,
    key: string,
    input: Parameters<HistoryRecorder['invoke']>[2],
    body: () => Promise<{ read?: RegisterValue; swapped?: boolean }>,
  ) {
    const pending: PendingOp = this.opts.recorder.invoke(process, key, input);
    const call = body();
    try {
      pending.ok(await withBudget(call, OP_BUDGET_MS));
      this.stats.ok++;
    } catch (err) {
      const definite = err instanceof TxnConflictError;
      const why = err instanceof NokvError ? `${err.code}: ${err.message}` : (err as Error).message;
      if (definite) {
        pending.fail(why);
        this.stats.fail++;
      } else {
        pending.info(why);
        this.stats.info++;
        const straggler = call.catch(() => undefined).finally(() => this.stragglers.delete(straggler));
        this.stragglers.add(straggler);
      }
    }
    return pending.op;
  }
}
