// Owns how a store's region descriptors become rooted events and how meta-root's answer to a publish is read.
// A store publishes `region_bootstrap` first (the first store to publish a region wins); "already exists" means
// someone did, and the same descriptor is then published as `region_descriptor_published`, which is a no-op
// when identical, an upsert when the store's epoch is newer (a split it applied), "stale" when rooted truth is
// already ahead, and a conflict when the same epoch describes a different range or peer set. Pure: no I/O.
import { NokvError } from '../../common/errors.js';
import { events, type RegionInput, type RootEvent } from '../../metaroot/state/index.js';
import type { RegionDescriptor } from '../region/descriptor.js';

/** Rooted form of a store descriptor: hex keys, peer id = store id (one replica per store, raft node = store). */
export function regionInputOf(d: RegionDescriptor): RegionInput {
  return {
    region_id: d.id,
    start_key: d.start.toString('hex'),
    end_key: d.end.toString('hex'),
    epoch: { version: d.epoch.version, conf_version: d.epoch.confVersion },
    peers: [...d.peers].sort((a, b) => a - b).map((s) => ({ store_id: s, peer_id: s })),
  };
}

/** Identity of what was published: a descriptor that changes in any way is published again. */
export function descriptorKey(d: RegionDescriptor): string {
  const p = [...d.peers].sort((a, b) => a - b).join(',');
  return `${d.epoch.version}/${d.epoch.confVersion}/${d.start.toString('hex')}/${d.end.toString('hex')}/${p}`;
}

export const bootstrapEvent = (d: RegionDescriptor): RootEvent => events.regionBootstrap(regionInputOf(d));
export const publishedEvent = (d: RegionDescriptor): RootEvent => events.descriptorPublished(regionInputOf(d));

/**
 * What a refused publish of `published` means for the store:
 * - `exists`: region_bootstrap lost to an earlier publish; follow up with region_descriptor_published.
 * - `stale`: rooted truth holds a newer epoch; nothing to do (this replica has not applied a change yet).
 * - `conflict`: rooted truth holds a different descriptor at the same epoch; an operator must look.
 * - `retry`: an ordering refusal (overlap with a region not yet republished, an open range change) or an
 *   unreachable control plane; try again on the next round.
 * - `retired`: this store id was retired; joining again is refused for good.
 */
export type PublishRefusal = 'exists' | 'stale' | 'conflict' | 'retry' | 'retired';

export function classifyRefusal(err: unknown, published?: RegionDescriptor): PublishRefusal {
  if (!(err instanceof NokvError) || err.code !== 'FAILED_PRECONDITION') return 'retry';
  const m = err.message;
  if (/already exists/.test(m)) return 'exists';
  if (/stale region epoch/.test(m)) {
    // Rooted truth ahead only in conf version (an open peer change planned before this replica split) is not
    // ahead: the split must still reach rooted truth once the change is finished or cancelled.
    const current = (err.details as { current?: { version?: unknown } }).current;
    if (published && typeof current?.version === 'number' && current.version < published.epoch.version) return 'retry';
    return 'stale';
  }
  if (/changed without an epoch bump/.test(m)) return 'conflict';
  if (/is retired/.test(m)) return 'retired';
  return 'retry';
}
