// Owns publishing a subtree-authority handoff through the coordinators to meta-root around a RenameSubtree:
// read the authority (era, frontier, open handoff) from the coordinators' rooted view, then append
// SubtreeHandoffStarted for the next era and, once the move is done, SubtreeHandoffCompleted with the move's
// frontier. Meta-root validates both (holder, era strictly above, frontier never back), so this module only
// has to name the right era; a refusal from a stale view is retried after re-reading.
import { FailedPreconditionError, NokvError } from '../../common/errors.js';
import { RETRY_SYSTEM_CLOCK, backoffMs, sleep as sleepOn } from '../../common/retry.js';
import type { CoordinatorClient } from '../../coordinator/client.js';

/** Attempts to open a handoff when a lagging view or an earlier writer made meta-root refuse it. */
export const HANDOFF_ATTEMPTS = 4;
/** First wait before re-reading the authority after a refusal; doubles per attempt. */
export const HANDOFF_RETRY_BASE_MS = 25;
const HANDOFF_BACKOFF = { backoffBaseMs: HANDOFF_RETRY_BASE_MS, backoffMaxMs: Infinity, jitter: 0 };

type Port = Pick<CoordinatorClient, 'getSubtreeAuthority' | 'publishRootEvent'>;

interface Authority {
  authorityId: string;
  era: number;
  frontier: bigint;
  handoff: { to: string; era: number } | null;
}

interface OpenHandoff {
  to: string;
  era: number;
  /** The rooted frontier when it opened; the completion must not go below it. */
  floor: bigint;
  release: () => void;
}

const max = (a: bigint, b: bigint) => (a > b ? a : b);
const isRefusal = (err: unknown) => err instanceof NokvError && err.code === 'FAILED_PRECONDITION';

export class SubtreeHandoffs {
  private readonly open = new Map<string, OpenHandoff>();
  /** One handoff per subtree at a time: meta-root refuses a second while one is open. */
  private readonly tails = new Map<string, Promise<void>>();

  /** `holder` names this gateway; each era's authority is `holder@era`, so every handoff names a new successor. */
  constructor(
    private readonly client: Port,
    private readonly holder: string,
    /** Waits between attempts (the gateway passes its injected clock). */
    private readonly sleep: (ms: number) => Promise<void> = (ms) => sleepOn(RETRY_SYSTEM_CLOCK, ms),
  ) {}

  /** Opens a handoff of `mount/rootInode` to the next era; holds the subtree until `complete`. */
  async start(mount: string, rootInode: number, frontier: bigint): Promise<void> {
    const sid = `${mount}/${rootInode}`;
    const release = await this.lock(sid);
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          const h = await this.tryStart(mount, rootInode, frontier);
          this.open.set(sid, { ...h, release });
          return;
        } catch (err) {
          if (attempt >= HANDOFF_ATTEMPTS || !isRefusal(err)) throw err;
          await this.sleep(backoffMs(HANDOFF_BACKOFF, attempt - 1));
        }
      }
    } catch (err) {
      release();
      throw err;
    }
  }

  /** Completes the handoff `start` opened (nothing to do if it did not open one). */
  async complete(mount: string, rootInode: number, frontier: bigint): Promise<void> {
    const sid = `${mount}/${rootInode}`;
    const h = this.open.get(sid);
    if (!h) return;
    this.open.delete(sid);
    try {
      await this.publishCompleted(mount, rootInode, h.to, h.era, max(frontier, h.floor));
    } finally {
      h.release();
    }
  }

  private async tryStart(mount: string, rootInode: number, frontier: bigint): Promise<Omit<OpenHandoff, 'release'>> {
    let cur = await this.read(mount, rootInode);
    const floor = max(cur.frontier, frontier);
    if (cur.handoff) {
      // Left open by a gateway that stopped between the two events: finish it first, so none stays half-done.
      await this.publishCompleted(mount, rootInode, cur.handoff.to, cur.handoff.era, floor);
      cur = { authorityId: cur.handoff.to, era: cur.handoff.era, frontier: floor, handoff: null };
    }
    if (cur.authorityId === '') {
      // A mount's authority starts undeclared; a handoff needs a holder to hand off from.
      const era = cur.era + 1;
      const id = `${this.holder}@${era}`;
      await this.client.publishRootEvent({ kind: 'subtree_authority_declared', v: 1, mount_id: mount, root_inode: rootInode, authority_id: id, era, frontier: floor.toString() });
      cur = { authorityId: id, era, frontier: floor, handoff: null };
    }
    const era = cur.era + 1;
    const to = `${this.holder}@${era}`;
    await this.client.publishRootEvent({ kind: 'subtree_handoff_started', v: 1, mount_id: mount, root_inode: rootInode, from_authority: cur.authorityId, to_authority: to, era });
    return { to, era, floor };
  }

  private async publishCompleted(mount: string, rootInode: number, to: string, era: number, frontier: bigint): Promise<void> {
    await this.client.publishRootEvent({ kind: 'subtree_handoff_completed', v: 1, mount_id: mount, root_inode: rootInode, to_authority: to, era, frontier: frontier.toString() });
  }

  private async read(mount: string, rootInode: number): Promise<Authority> {
    const r = await this.client.getSubtreeAuthority(mount, rootInode);
    const a = r.authority;
    if (r.not_found || !a) throw new FailedPreconditionError(`subtree ${mount}/${rootInode} has no authority record`);
    const h = a.handoff;
    return {
      authorityId: String(a.authority_id ?? ''),
      era: Number(a.era ?? 0),
      frontier: BigInt(a.frontier ?? 0),
      handoff: h && h.to_authority ? { to: String(h.to_authority), era: Number(h.era) } : null,
    };
  }

  private async lock(sid: string): Promise<() => void> {
    const prev = this.tails.get(sid) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.tails.set(sid, tail);
    await prev;
    return () => {
      release();
      if (this.tails.get(sid) === tail) this.tails.delete(sid);
    };
  }
}
