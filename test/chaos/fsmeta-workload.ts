// Owns the client side of the fsmeta chaos test: one gRPC client per worker running a seeded
// create / rename / rename-subtree / unlink / readdirplus load in a directory of its own, and the model each worker builds from
// its acknowledged results. Every name is used once, so a model is just "name -> inode" for what must exist plus
// the names an indeterminate call may or may not have changed; nothing else may exist.
import * as grpc from '@grpc/grpc-js';
import type { Prng } from '../../src/common/prng.js';
import { file, FsClient } from '../fixtures/fsmeta-gateway.js';

/** Deadline of one call: long enough to ride out a region leader election, short enough to notice a stall. */
export const OP_DEADLINE_MS = 5_000;
/** Page size of every listing (the workload's directories stay far below it, the walk pages anyway). */
export const LIST_PAGE = 256;
/** Below this many live names a worker only creates, so renames and unlinks always have a target. */
const MIN_LIVE = 3;

export interface OpSample {
  op: string;
  startMs: number;
  endMs: number;
  ok: boolean;
}

/** One entry of a listing: name -> inode. */
export type Listing = Map<string, string>;

export function call<T = any>(fs: FsClient, method: string, req: unknown, deadlineMs = OP_DEADLINE_MS): Promise<T> {
  return new Promise((resolve, reject) => {
    (fs.raw as any)[method](fs.request(req), fs.metadata(), { deadline: new Date(Date.now() + deadlineMs) }, (err: grpc.ServiceError | null, res: T) =>
      err ? reject(err) : resolve(fs.response(res)),
    );
  });
}

/** Every entry of a directory, paging with ReadDirPlus. */
export async function listDir(fs: FsClient, mount: string, parent: string, deadlineMs = OP_DEADLINE_MS): Promise<Listing> {
  const out: Listing = new Map();
  for (let after = ''; ; ) {
    const page = await call(fs, 'ReadDirPlus', { mount, parent, start_after: after, limit: LIST_PAGE }, deadlineMs);
    for (const e of page.entries) out.set(e.dentry.name as string, e.dentry.inode as string);
    if (page.entries.length < LIST_PAGE) return out;
    after = page.entries.at(-1).dentry.name as string;
  }
}

const codeName = (err: unknown) => grpc.status[(err as grpc.ServiceError).code] ?? String(err);

export class FsWorker {
  /** Names that must exist, with their inode: created or renamed-to, acknowledged. */
  readonly present: Listing = new Map();
  /** Names an indeterminate call touched: either way is allowed, and the worker never uses them again. */
  readonly maybe = new Set<string>();
  readonly samples: OpSample[] = [];
  readonly errorCodes = new Map<string, number>();
  readonly violations: string[] = [];
  private seq = 0;
  private running = true;
  private loop: Promise<void> | undefined;

  constructor(
    readonly id: number,
    private readonly fs: FsClient,
    private readonly mount: string,
    readonly dir: string,
    private readonly prng: Prng,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.fs.close();
  }

  /** The first acknowledged call that began after `sinceMs`. */
  firstOkAfter(sinceMs: number): OpSample | undefined {
    return this.samples.find((s) => s.ok && s.startMs > sinceMs);
  }

  /** The longest time without an acknowledged call since `sinceMs` (how long a fault stalled this client). */
  longestStallMs(sinceMs: number): number {
    let last = sinceMs;
    let longest = 0;
    for (const s of this.samples) {
      if (!s.ok || s.endMs < sinceMs) continue;
      longest = Math.max(longest, s.endMs - last);
      last = s.endMs;
    }
    return longest;
  }

  /** Checks a listing of this worker's directory against the model: present ⊆ listing ⊆ present ∪ maybe. */
  check(listing: Listing, when: string): void {
    for (const [name, inode] of this.present) {
      const got = listing.get(name);
      if (got !== inode) this.violations.push(`${when}: worker ${this.id} acknowledged ${name} (inode ${inode}) but the listing has ${got ?? 'nothing'}`);
    }
    for (const name of listing.keys()) {
      if (!this.present.has(name) && !this.maybe.has(name)) this.violations.push(`${when}: worker ${this.id} listing has ${name}, which no call could have left there`);
    }
  }

  private async run(): Promise<void> {
    while (this.running) await this.step();
  }

  private fresh(): string {
    return `w${this.id}-${this.seq++}`;
  }

  private pickLive(): string {
    const names = [...this.present.keys()];
    return names[this.prng.int(names.length)]!;
  }

  private async step(): Promise<void> {
    const r = this.prng.int(10);
    if (this.present.size < MIN_LIVE || r < 4) return this.timed('create', () => this.create());
    if (r < 5) return this.timed('rename', () => this.rename('Rename'));
    // RenameSubtree also moves the mount's subtree authority to the next era through the coordinators.
    if (r < 6) return this.timed('rename_subtree', () => this.rename('RenameSubtree'));
    if (r < 8) return this.timed('unlink', () => this.unlink());
    return this.timed('readdirplus', async () => this.check(await listDir(this.fs, this.mount, this.dir), 'readdirplus during the load'));
  }

  private async timed(op: string, body: () => Promise<void>): Promise<void> {
    const startMs = Date.now();
    let ok = true;
    try {
      await body();
    } catch (err) {
      ok = false;
      const code = codeName(err);
      this.errorCodes.set(code, (this.errorCodes.get(code) ?? 0) + 1);
    }
    this.samples.push({ op, startMs, endMs: Date.now(), ok });
    // A failed call often means a fault is in progress: do not spin on it.
    if (!ok) await new Promise((r) => setTimeout(r, 50));
  }

  private async create(): Promise<void> {
    const name = this.fresh();
    try {
      const res = await call(this.fs, 'Create', { mount: this.mount, parent: this.dir, name, attrs: file(1) });
      this.present.set(name, res.inode.inode as string);
    } catch (err) {
      this.maybe.add(name);
      throw err;
    }
  }

  private async rename(method: 'Rename' | 'RenameSubtree'): Promise<void> {
    const from = this.pickLive();
    const inode = this.present.get(from)!;
    const to = this.fresh();
    this.present.delete(from);
    try {
      await call(this.fs, method, { mount: this.mount, from_parent: this.dir, from_name: from, to_parent: this.dir, to_name: to });
      this.present.set(to, inode);
    } catch (err) {
      this.maybe.add(from).add(to);
      throw err;
    }
  }

  private async unlink(): Promise<void> {
    const name = this.pickLive();
    this.present.delete(name);
    try {
      await call(this.fs, 'Unlink', { mount: this.mount, parent: this.dir, name });
    } catch (err) {
      this.maybe.add(name);
      throw err;
    }
  }
}
