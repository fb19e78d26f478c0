// Owns an in-process stand-in for the coordinator duties the gateway uses: timestamps from the memory KV's
// oracle, ids from a counter, and mounts, quota fences and published rooted events held in maps. Tests and
// `--dev-memory-kv` use it; production uses the coordinator adapter.
import { FsInvalidError } from './errors.js';
import type { CoordinatorDuties, FsRootEvent, MountInfo, QuotaFence } from './kv.js';
import type { MemoryTso } from './memory-kv.js';

/** Ids below this are left for mount roots, so allocated inodes never collide with one. */
export const FIRST_ALLOCATED_ID = 1000;

export class MemoryDuties implements CoordinatorDuties {
  private nextId: number;
  readonly mounts = new Map<string, MountInfo>();
  readonly fences = new Map<string, QuotaFence>();
  readonly events: FsRootEvent[] = [];

  constructor(
    private readonly tso: MemoryTso,
    firstId = FIRST_ALLOCATED_ID,
  ) {
    this.nextId = firstId;
  }

  async reserveTimestamps(count: number): Promise<bigint> {
    return this.tso.nextSync(count);
  }

  async allocIds(count: number): Promise<number> {
    const first = this.nextId;
    this.nextId += count;
    return first;
  }

  async getMount(mount: string): Promise<MountInfo | undefined> {
    return this.mounts.get(mount);
  }

  async getQuotaFence(mount: string, scope: number): Promise<QuotaFence | undefined> {
    return this.fences.get(`${mount}/${scope}`);
  }

  async publishRootEvent(event: FsRootEvent): Promise<void> {
    this.events.push(event);
  }

  registerMount(mount: string, rootInode = 1): void {
    const cur = this.mounts.get(mount);
    if (cur && cur.rootInode !== rootInode) throw new FsInvalidError(`mount ${mount} is registered with root ${cur.rootInode}`);
    this.mounts.set(mount, { mount, rootInode, retired: cur?.retired ?? false });
  }

  retireMount(mount: string): void {
    const cur = this.mounts.get(mount);
    if (cur) this.mounts.set(mount, { ...cur, retired: true });
  }

  setQuotaFence(mount: string, scope: number, fence: QuotaFence | undefined): void {
    if (fence) this.fences.set(`${mount}/${scope}`, fence);
    else this.fences.delete(`${mount}/${scope}`);
  }
}
