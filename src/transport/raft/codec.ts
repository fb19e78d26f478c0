// Owns the payload of a RaftBatch: a msgpack array of { group, msg }. msg is opaque plain data (the raft
// core's messages with Uint8Array fields); the transport never looks inside it.
//
// msgpackr options are pinned here so both ends agree: plain maps (no record extension) keep the payload
// readable by any msgpack decoder; maps decode as plain objects; binary fields decode as Buffer (a
// Uint8Array). Known loss: -0 becomes 0, and a Map arrives as a plain object.
import { Packr } from 'msgpackr';
import { DataLossError } from '../../common/errors.js';

export interface RaftItem<M = unknown> {
  /** Raft group (region id, or 0 for the meta-root group). */
  group: number;
  msg: M;
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

/** Encodes items into a fresh, exact-size buffer (msgpackr reuses its own buffer between calls). */
export function encodeItems(items: readonly RaftItem[]): Uint8Array {
  const view = packr.pack(items);
  return new Uint8Array(view);
}

/** Decodes and checks the shape of a payload; a malformed payload is a DataLossError. */
export function decodeItems(payload: Uint8Array): RaftItem[] {
  let value: unknown;
  try {
    value = packr.unpack(payload);
  } catch (err) {
    throw new DataLossError(`undecodable raft batch: ${(err as Error).message}`);
  }
  if (!Array.isArray(value)) throw new DataLossError('raft batch payload is not an array');
  for (const item of value) {
    if (!item || typeof item !== 'object' || typeof (item as RaftItem).group !== 'number') {
      throw new DataLossError('raft batch item lacks a numeric group');
    }
  }
  return value as RaftItem[];
}

/**
 * Splits items into payloads of at most maxBytes each (halving until they fit). A single item bigger than
 * maxBytes still gets its own payload; the caller decides whether it may be sent at all.
 */
export function encodeBatches(items: readonly RaftItem[], maxBytes: number): Uint8Array[] {
  if (items.length === 0) return [];
  const payload = encodeItems(items);
  if (payload.length <= maxBytes || items.length === 1) return [payload];
  const mid = items.length >>> 1;
  return [...encodeBatches(items.slice(0, mid), maxBytes), ...encodeBatches(items.slice(mid), maxBytes)];
}
