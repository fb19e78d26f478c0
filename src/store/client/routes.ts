// Owns the client's routing cache: region descriptors indexed by start key, the leader guess per region, and
// how the cache reacts to each region error (NotLeader → follow the hint or try the next peer; EpochNotMatch →
// replace with the store's descriptors; KeyNotInRegion / RegionNotFound → drop and refetch).
import { compareBytes, containsKeyRange } from './range.js';
import type { RegionDescriptor } from '../region/descriptor.js';

export class RouteCache {
  /** Sorted by start key; ranges never overlap (an insert evicts what it overlaps). */
  private regions: RegionDescriptor[] = [];
  private readonly leaders = new Map<number, number>();

  locate(key: Buffer): RegionDescriptor | undefined {
    let lo = 0;
    let hi = this.regions.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = this.regions[mid]!;
      if (compareBytes(key, r.start) < 0) hi = mid - 1;
      else if (r.end.length > 0 && compareBytes(key, r.end) >= 0) lo = mid + 1;
      else return r;
    }
    return undefined;
  }

  insert(d: RegionDescriptor, leader?: number): void {
    const current = this.regions.find((r) => r.id === d.id);
    // Never go back to an older epoch: not to an older range, nor to an older peer set of the same range.
    if (current && (current.epoch.version > d.epoch.version || (current.epoch.version === d.epoch.version && current.epoch.confVersion > d.epoch.confVersion))) return;
    this.regions = this.regions.filter((r) => r.id !== d.id && !containsKeyRange(r, d));
    this.regions.push(d);
    this.regions.sort((a, b) => compareBytes(a.start, b.start));
    if (leader && d.peers.includes(leader)) this.leaders.set(d.id, leader);
  }

  drop(regionId: number): void {
    this.regions = this.regions.filter((r) => r.id !== regionId);
  }

  /** The store to try first: the known leader if still a peer, else the first peer. */
  leaderOf(d: RegionDescriptor): number {
    const l = this.leaders.get(d.id);
    return l && d.peers.includes(l) ? l : d.peers[0]!;
  }

  setLeader(regionId: number, storeId: number): void {
    this.leaders.set(regionId, storeId);
  }

  /** After a failed attempt with no hint: the next peer in order. */
  rotate(d: RegionDescriptor): void {
    const cur = this.leaderOf(d);
    const i = d.peers.indexOf(cur);
    this.leaders.set(d.id, d.peers[(i + 1) % d.peers.length]!);
  }

  get size(): number {
    return this.regions.length;
  }

  all(): RegionDescriptor[] {
    return [...this.regions];
  }
}
