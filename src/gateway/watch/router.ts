// Owns the watch router: it consumes applied-change events from an event source, keeps a bounded per-region
// history for resume cursors, drops duplicates (every replica reports the same entry), and turns each changed
// dentry key into an event that says what happened (created / updated / deleted, with parent and name) for
// every subscription it concerns, directly or, for recursive watches, through any descendant directory.
//
// Events are processed one at a time in arrival order, and subscribing is queued in the same order, so a
// resumed subscriber sees its replay and then live events without a gap or a reordering. Telling created from
// updated, and finding whether a directory lies under a watched root, reads the KV at the event's version
// (the event itself carries only keys).
import { UnavailableError } from '../../common/errors.js';
import { WatchCursorExpiredError, WatchOverflowError } from '../errors.js';
import * as K from '../keys.js';
import type { ApplyEventSource, KvApplyEvent, KvCursor, TransactionalKv } from '../kv.js';
import { MAX_TREE_DEPTH } from '../types.js';

/** Applied events remembered per region for resume (and duplicate detection). */
export const WATCH_HISTORY_PER_REGION = 4096;
/** Unacknowledged events per subscription: default and largest accepted. */
export const DEFAULT_WATCH_WINDOW = 256;
export const MAX_WATCH_WINDOW = 65_536;
/** Live subscriptions per router. */
export const MAX_WATCH_SUBSCRIPTIONS = 10_000;
/** Events waiting to be classified before the router gives up on its subscribers (they can resume). */
export const MAX_ROUTER_BACKLOG = 100_000;

export type WatchKind = 'CREATED' | 'UPDATED' | 'DELETED';

export interface WatchItem {
  cursor: KvCursor;
  commitVersion: bigint;
  kind: WatchKind;
  parent: number;
  name: Buffer;
  key: Buffer;
}

export interface WatchSpec {
  mount?: string;
  rootInode?: number;
  keyPrefix?: Buffer;
  recursive: boolean;
  /** regionId 0 = live only. */
  resume: KvCursor;
  window: number;
}

export interface WatchSink {
  /** The subscription is registered; called before any replayed or live event. */
  opened(sub: Subscription): void;
  deliver(item: WatchItem): void;
  /** The subscription ended with err (overflow, router failure); no more deliveries follow. */
  close(err: Error): void;
}

export interface WatchStats {
  subscriptions: number;
  events: number;
  duplicates: number;
  delivered: number;
  overflows: number;
  backlog: number;
}

const cmpCursor = (a: KvCursor, b: KvCursor) => (a.term !== b.term ? a.term - b.term : a.index - b.index);

/** Removes from pending the delivered cursors an ack of `cursor` releases: same region, at or below it. */
export function releaseAcked(pending: KvCursor[], cursor: KvCursor): void {
  for (let i = pending.length - 1; i >= 0; i--) {
    const p = pending[i]!;
    if (p.regionId === cursor.regionId && cmpCursor(p, cursor) <= 0) pending.splice(i, 1);
  }
}

export class Subscription {
  private readonly pending: KvCursor[] = [];
  closed = false;

  constructor(
    readonly spec: WatchSpec,
    private readonly sink: WatchSink,
    private readonly onEnd: (s: Subscription) => void,
    private readonly stats: WatchStats,
  ) {}

  /** Releases delivered events of the same region at or below cursor. */
  ack(cursor: KvCursor): void {
    releaseAcked(this.pending, cursor);
  }

  get outstanding(): number {
    return this.pending.length;
  }

  deliver(item: WatchItem): void {
    if (this.closed) return;
    if (this.pending.length >= this.spec.window) {
      this.stats.overflows++;
      this.close(new WatchOverflowError(`watch fell ${this.spec.window} unacknowledged events behind`));
      return;
    }
    this.pending.push(item.cursor);
    this.stats.delivered++;
    this.sink.deliver(item);
  }

  close(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.onEnd(this);
    if (err) this.sink.close(err);
  }
}

interface Ring {
  events: KvApplyEvent[];
  seen: Set<string>;
}

export class WatchRouter {
  readonly stats: WatchStats = { subscriptions: 0, events: 0, duplicates: 0, delivered: 0, overflows: 0, backlog: 0 };
  private readonly subs = new Set<Subscription>();
  private readonly history = new Map<number, Ring>();
  private readonly queue: Array<() => Promise<void>> = [];
  private draining = false;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly kv: TransactionalKv,
    private readonly source: ApplyEventSource,
  ) {}

  start(): void {
    this.unsubscribe ??= this.source.subscribe((ev) => this.onEvent(ev));
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    for (const s of [...this.subs]) s.close(new UnavailableError('gateway is stopping'));
    this.queue.length = 0;
  }

  /** Registers a subscription after replaying what followed spec.resume; resolves once it is live. */
  subscribe(spec: WatchSpec, sink: WatchSink): Promise<Subscription> {
    if (this.subs.size >= MAX_WATCH_SUBSCRIPTIONS) return Promise.reject(new UnavailableError(`too many watches (limit ${MAX_WATCH_SUBSCRIPTIONS})`));
    return new Promise((resolve, reject) => {
      this.enqueue(async () => {
        try {
          const sub = new Subscription(spec, sink, (s) => this.drop(s), this.stats);
          const replay = this.replayFrom(spec.resume);
          this.subs.add(sub);
          this.stats.subscriptions = this.subs.size;
          sink.opened(sub);
          resolve(sub);
          for (const ev of replay) await this.route(ev, [sub]);
        } catch (err) {
          reject(err);
        }
      });
    });
  }

  private drop(s: Subscription): void {
    this.subs.delete(s);
    this.stats.subscriptions = this.subs.size;
  }

  private onEvent(ev: KvApplyEvent): void {
    if (!ev.mutations.some((m) => m.key.subarray(0, 3).toString('latin1') === 'fsm')) return;
    if (this.queue.length >= MAX_ROUTER_BACKLOG) {
      for (const s of [...this.subs]) s.close(new UnavailableError('watch router is overloaded; resume from your last cursor'));
      return;
    }
    this.enqueue(async () => {
      if (!this.remember(ev)) return;
      this.stats.events++;
      if (this.subs.size > 0) await this.route(ev, [...this.subs]);
    });
  }

  private enqueue(task: () => Promise<void>): void {
    this.queue.push(task);
    this.stats.backlog = this.queue.length;
    if (!this.draining) void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    while (this.queue.length > 0) {
      const task = this.queue.shift()!;
      this.stats.backlog = this.queue.length;
      try {
        await task();
      } catch (err) {
        for (const s of [...this.subs]) s.close(err instanceof Error ? err : new Error(String(err)));
      }
    }
    this.draining = false;
  }

  /** Adds ev to its region's history; false if it was already seen. */
  private remember(ev: KvApplyEvent): boolean {
    let ring = this.history.get(ev.cursor.regionId);
    if (!ring) this.history.set(ev.cursor.regionId, (ring = { events: [], seen: new Set() }));
    const id = `${ev.cursor.term}:${ev.cursor.index}`;
    if (ring.seen.has(id)) {
      this.stats.duplicates++;
      return false;
    }
    ring.events.push(ev);
    ring.seen.add(id);
    if (ring.events.length > WATCH_HISTORY_PER_REGION) {
      const old = ring.events.shift()!;
      ring.seen.delete(`${old.cursor.term}:${old.cursor.index}`);
    }
    return true;
  }

  private replayFrom(cursor: KvCursor): KvApplyEvent[] {
    if (cursor.regionId === 0) return [];
    const ring = this.history.get(cursor.regionId);
    if (!ring || ring.events.length === 0) throw new WatchCursorExpiredError(`no watch history for region ${cursor.regionId}`);
    const at = ring.events.findIndex((e) => cmpCursor(e.cursor, cursor) === 0);
    if (at >= 0) return ring.events.slice(at + 1);
    if (cmpCursor(cursor, ring.events[ring.events.length - 1]!.cursor) > 0) return [];
    throw new WatchCursorExpiredError(`watch cursor ${cursor.term}/${cursor.index} of region ${cursor.regionId} is older than the history`);
  }

  private async route(ev: KvApplyEvent, subs: Subscription[]): Promise<void> {
    for (const m of ev.mutations) {
      const parsed = K.parseDentryKey(m.key);
      let kind: WatchKind | undefined;
      const kindOf = async (): Promise<WatchKind> => {
        if (kind) return kind;
        if (m.op === 'delete') kind = 'DELETED';
        else if (!parsed) kind = 'UPDATED';
        else kind = (await this.kv.begin(ev.commitVersion - 1n).get(m.key)) === undefined ? 'CREATED' : 'UPDATED';
        return kind;
      };
      for (const sub of subs) {
        if (sub.closed || !(await this.matches(sub.spec, m.key, parsed, ev.commitVersion))) continue;
        sub.deliver({ cursor: ev.cursor, commitVersion: ev.commitVersion, kind: await kindOf(), parent: parsed?.parent ?? 0, name: parsed?.name ?? Buffer.alloc(0), key: m.key });
      }
    }
  }

  private async matches(spec: WatchSpec, key: Buffer, d: K.ParsedDentryKey | undefined, version: bigint): Promise<boolean> {
    if (spec.keyPrefix) return key.subarray(0, spec.keyPrefix.length).equals(spec.keyPrefix);
    if (!d || d.mount !== spec.mount) return false;
    if (d.parent === spec.rootInode) return true;
    return spec.recursive && (await this.isBelow(spec.mount, d.parent, spec.rootInode!, version));
  }

  /** True if directory dir lies under root at version (walking directory parent records upwards). */
  private async isBelow(mount: string, dir: number, root: number, version: bigint): Promise<boolean> {
    const tx = this.kv.begin(version);
    let cur = dir;
    for (let depth = 0; depth < MAX_TREE_DEPTH; depth++) {
      const raw = await tx.get(K.parentKey(mount, cur));
      if (!raw) return false;
      cur = K.decodeParent(raw).parent;
      if (cur === root) return true;
    }
    return false;
  }
}
