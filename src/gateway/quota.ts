// Owns quota accounting inside an fsmeta transaction: which subjects a change is charged to (the direct parent
// scope and the mount scope 0, only those with a rooted fence), and charging them from the usage records the
// transaction read at its start, refusing growth beyond a non-zero limit. The usage keys are written in the same
// transaction, so concurrent writers under one fence serialise on them; subjects without a fence keep no usage.
import { QuotaExceededError } from './errors.js';
import * as K from './keys.js';
import type { CoordinatorDuties, KvTxn, QuotaFence } from './kv.js';

export interface QuotaDelta {
  scope: number;
  bytes: number;
  inodes: number;
}

/** One fenced subject a transaction changes: its aggregated delta, its fence and its usage key. */
export interface QuotaCharge extends QuotaDelta {
  fence: QuotaFence;
  key: Buffer;
}

/** Aggregates deltas per scope (each also counts for the mount scope 0); keeps changed, fenced subjects. */
export async function planQuota(duties: CoordinatorDuties, mount: string, deltas: QuotaDelta[]): Promise<QuotaCharge[]> {
  const byScope = new Map<number, QuotaDelta>();
  for (const d of deltas) {
    for (const scope of [d.scope, 0]) {
      const cur = byScope.get(scope) ?? { scope, bytes: 0, inodes: 0 };
      byScope.set(scope, { scope, bytes: cur.bytes + d.bytes, inodes: cur.inodes + d.inodes });
    }
  }
  const out: QuotaCharge[] = [];
  for (const d of byScope.values()) {
    if (d.bytes === 0 && d.inodes === 0) continue;
    const fence = await duties.getQuotaFence(mount, d.scope);
    if (fence) out.push({ ...d, fence, key: K.usageKey(mount, d.scope) });
  }
  return out;
}

/** Writes each charged subject's new usage (read at start into `got`, keyed by hex), or refuses the change. */
export function chargeQuota(tx: KvTxn, mount: string, charges: QuotaCharge[], got: Map<string, Buffer>): void {
  for (const c of charges) {
    const raw = got.get(c.key.toString('hex'));
    const cur = raw ? K.decodeUsage(raw) : { bytes: 0, inodes: 0 };
    const next = { bytes: Math.max(0, cur.bytes + c.bytes), inodes: Math.max(0, cur.inodes + c.inodes) };
    const { limitBytes, limitInodes } = c.fence;
    if ((c.bytes > 0 && limitBytes > 0 && next.bytes > limitBytes) || (c.inodes > 0 && limitInodes > 0 && next.inodes > limitInodes)) {
      throw new QuotaExceededError(`quota exceeded for ${mount} scope ${c.scope}`, { scope: c.scope });
    }
    if (next.bytes === 0 && next.inodes === 0) tx.delete(c.key);
    else tx.put(c.key, K.encodeUsage(next));
  }
}

/** planQuota, one read of the usage keys, chargeQuota: for operations that have no batch read of their own. */
export async function applyQuota(tx: KvTxn, duties: CoordinatorDuties, mount: string, deltas: QuotaDelta[]): Promise<void> {
  const charges = await planQuota(duties, mount, deltas);
  if (charges.length === 0) return;
  chargeQuota(tx, mount, charges, await tx.batchGet(charges.map((c) => c.key)));
}
