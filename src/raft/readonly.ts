// Owns linearizable ReadIndex bookkeeping on the leader: each request remembers the commit index at the
// time it arrived and waits until a quorum answers a heartbeat sent after it, which proves no newer leader
// could have committed anything the request might miss. Requests are released in arrival order.
import type { NodeId } from './types.js';
import { majority } from './quorum.js';

export interface ReadRequest {
  /** Opaque id chosen by the caller; it comes back in the ReadState. */
  ctx: Uint8Array;
  /** Who asked: this node's id, or the follower that forwarded it. */
  from: NodeId;
  /** Commit index when the request was accepted. */
  index: number;
}

interface Pending {
  req: ReadRequest;
  acks: Set<NodeId>;
}

export function ctxKey(ctx: Uint8Array): string {
  return Buffer.from(ctx.buffer, ctx.byteOffset, ctx.byteLength).toString('base64');
}

export class ReadOnlyQueue {
  private readonly pending = new Map<string, Pending>();
  private readonly order: string[] = [];

  get size(): number {
    return this.order.length;
  }

  has(ctx: Uint8Array): boolean {
    return this.pending.has(ctxKey(ctx));
  }

  add(req: ReadRequest, self: NodeId): void {
    const key = ctxKey(req.ctx);
    if (this.pending.has(key)) return;
    this.pending.set(key, { req, acks: new Set([self]) });
    this.order.push(key);
  }

  /** Records a heartbeat answer for ctx; returns how many distinct voters have acked it (0 if unknown). */
  ack(ctx: Uint8Array, from: NodeId, isVoter: (id: NodeId) => boolean): number {
    const p = this.pending.get(ctxKey(ctx));
    if (!p) return 0;
    if (isVoter(from)) p.acks.add(from);
    let n = 0;
    for (const id of p.acks) if (isVoter(id)) n++;
    return n;
  }

  /** Releases ctx and every request queued before it (a later confirmation covers earlier requests). */
  advance(ctx: Uint8Array): ReadRequest[] {
    const key = ctxKey(ctx);
    const at = this.order.indexOf(key);
    if (at < 0) return [];
    const released = this.order.splice(0, at + 1).map((k) => {
      const p = this.pending.get(k)!;
      this.pending.delete(k);
      return p.req;
    });
    return released;
  }

  quorumReached(acks: number, voterCount: number): boolean {
    return acks >= majority(voterCount);
  }

  /** The newest request's ctx: a heartbeat carrying it confirms every request queued so far. */
  lastCtx(): Uint8Array | undefined {
    const k = this.order[this.order.length - 1];
    return k === undefined ? undefined : this.pending.get(k)!.req.ctx;
  }

  clear(): void {
    this.pending.clear();
    this.order.length = 0;
  }
}
