// Owns region descriptors: the range, epoch and peers of one raft group, the bootstrap layout (two regions
// split at "m", three replicas each; raft node id = store id, group id = region id), and the admission checks
// a request passes before it reaches raft (epoch equality, keys in range).
import { inRange, type Bytes } from '../keys.js';
import { EpochNotMatchError, KeyNotInRegionError } from './errors.js';

export interface RegionEpoch {
  version: number;
  confVersion: number;
}

export interface RegionDescriptor {
  id: number;
  start: Buffer;
  /** Empty = +infinity. */
  end: Buffer;
  epoch: RegionEpoch;
  /** Store ids (= raft node ids) of the replicas. */
  peers: number[];
}

/** Where the bootstrap layout splits the key space. */
export const BOOTSTRAP_SPLIT_KEY = Buffer.from('m');
export const BOOTSTRAP_REPLICAS = 3;

/** The two bootstrap regions on the first three stores (by id) of the topology. */
export function bootstrapRegions(storeIds: number[]): RegionDescriptor[] {
  const peers = [...storeIds].sort((a, b) => a - b).slice(0, BOOTSTRAP_REPLICAS);
  const epoch = { version: 1, confVersion: 1 };
  return [
    { id: 1, start: Buffer.alloc(0), end: BOOTSTRAP_SPLIT_KEY, epoch: { ...epoch }, peers: [...peers] },
    { id: 2, start: BOOTSTRAP_SPLIT_KEY, end: Buffer.alloc(0), epoch: { ...epoch }, peers: [...peers] },
  ];
}

export function containsKey(d: RegionDescriptor, key: Bytes): boolean {
  return inRange(key, d.start, d.end);
}

export function epochEquals(a: RegionEpoch, b: RegionEpoch): boolean {
  return a.version === b.version && a.confVersion === b.confVersion;
}

/** JSON-safe form (error details, expvar): keys as lowercase hex. */
export interface DescriptorJson {
  id: number;
  start: string;
  end: string;
  epoch: RegionEpoch;
  peers: number[];
}

export function descriptorToJson(d: RegionDescriptor): DescriptorJson {
  return { id: d.id, start: d.start.toString('hex'), end: d.end.toString('hex'), epoch: { ...d.epoch }, peers: [...d.peers] };
}

export function descriptorFromJson(j: DescriptorJson): RegionDescriptor {
  return { id: j.id, start: Buffer.from(j.start, 'hex'), end: Buffer.from(j.end, 'hex'), epoch: { ...j.epoch }, peers: [...j.peers] };
}

/**
 * Throws the region error a request with this epoch and these keys deserves. Only the epoch's version (the
 * range) is compared, as TiKV does for data requests: a membership change moves the conf version but not what
 * the region serves, and during replica repair rooted routing already carries the planned conf version while
 * the replicas still have the old one for as long as the new peer needs to catch up.
 */
export function checkRequest(d: RegionDescriptor, epoch: RegionEpoch | undefined, keys: Bytes[], all: () => RegionDescriptor[]): void {
  if (epoch && epoch.version !== d.epoch.version) {
    throw new EpochNotMatchError(`region ${d.id} is at epoch ${d.epoch.version}/${d.epoch.confVersion}, request has ${epoch.version}/${epoch.confVersion}`, {
      regionId: d.id,
      regions: all().map(descriptorToJson),
    });
  }
  for (const k of keys) {
    if (!containsKey(d, k)) {
      throw new KeyNotInRegionError(`key ${Buffer.from(k).toString('hex')} is not in region ${d.id}`, {
        regionId: d.id,
        key: Buffer.from(k).toString('hex'),
        start: d.start.toString('hex'),
        end: d.end.toString('hex'),
      });
    }
  }
}
