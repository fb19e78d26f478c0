// Owns the payload of a RaftBatch: a sequence of group frames, so a receiver can split a batch per raft group
// without decoding a single message, and hand each group's bytes to the thread that owns the group.
//
//   payload := frame*
//   frame   := uvarint(group) uvarint(length) bytes[length]
//   bytes   := msgpack array of that group's raft messages, in the order they were queued
//
// Varints are unsigned LEB128; a group is a safe integer (at most 8 varint bytes), a length at most the bytes
// left in the payload. Splitting checks only the framing; a frame whose bytes are not a msgpack array fails
// when it is decoded, where the group lives, and costs only that frame. Messages of different groups are not
// ordered against each other (raft orders messages per group only).
//
// msgpackr options are pinned here so both ends agree: plain maps (no record extension) keep the bytes readable
// by any msgpack decoder; maps decode as plain objects; binary fields decode as Buffer (a Uint8Array). Known
// loss: -0 becomes 0, and a Map arrives as a plain object.
import { Packr } from 'msgpackr';
import { DataLossError } from '../../common/errors.js';

export interface RaftItem<M = unknown> {
  /** Raft group (region id, or the meta-root group). */
  group: number;
  msg: M;
}

/** One group's messages in a payload, still encoded: a view into the payload (no copy). */
export interface RaftFrame {
  group: number;
  bytes: Uint8Array;
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

/** A varint of a safe integer takes at most 8 bytes (8 x 7 = 56 bits >= 53). */
const MAX_VARINT_BYTES = 8;

/** Messages per group, in first-seen order of the groups and queue order within each. */
function byGroup(items: readonly RaftItem[]): Map<number, unknown[]> {
  const groups = new Map<number, unknown[]>();
  for (const { group, msg } of items) {
    if (!Number.isSafeInteger(group) || group < 0) throw new DataLossError(`raft group must be a non-negative safe integer, got ${group}`);
    let msgs = groups.get(group);
    if (!msgs) groups.set(group, (msgs = []));
    msgs.push(msg);
  }
  return groups;
}

function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

function writeVarint(out: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    out[pos++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  out[pos++] = n;
  return pos;
}

/** One encoded frame: its group and its msgpack bytes (an exact-size copy: msgpackr reuses its buffer). */
interface Packed {
  group: number;
  msgs: unknown[];
  bytes: Uint8Array;
}

function pack(group: number, msgs: unknown[]): Packed {
  const view = packr.pack(msgs);
  return { group, msgs, bytes: new Uint8Array(view) };
}

function frameSize(p: Packed): number {
  return varintLength(p.group) + varintLength(p.bytes.length) + p.bytes.length;
}

/** Concatenates frames into one exact-size payload. */
function join(frames: readonly Packed[]): Uint8Array {
  let total = 0;
  for (const f of frames) total += frameSize(f);
  const out = new Uint8Array(total);
  let pos = 0;
  for (const f of frames) {
    pos = writeVarint(out, pos, f.group);
    pos = writeVarint(out, pos, f.bytes.length);
    out.set(f.bytes, pos);
    pos += f.bytes.length;
  }
  return out;
}

/** Where encodeItems writes frames before the exact-size copy it returns; grows as needed, never shrinks. */
let scratch = new Uint8Array(64 * 1024);

/** Encodes items into one payload (one frame per group), packing each group straight into the scratch buffer. */
export function encodeItems(items: readonly RaftItem[]): Uint8Array {
  let pos = 0;
  for (const [group, msgs] of byGroup(items)) {
    const view = packr.pack(msgs);
    const need = pos + 2 * MAX_VARINT_BYTES + view.length;
    if (need > scratch.length) {
      const bigger = new Uint8Array(Math.max(need, scratch.length * 2));
      bigger.set(scratch.subarray(0, pos));
      scratch = bigger;
    }
    pos = writeVarint(scratch, pos, group);
    pos = writeVarint(scratch, pos, view.length);
    scratch.set(view, pos);
    pos += view.length;
  }
  return scratch.slice(0, pos);
}

/** A group's frame split in halves until each part fits maxBytes (a single message stays whole). */
function fitting(p: Packed, maxBytes: number, out: Packed[]): void {
  if (frameSize(p) <= maxBytes || p.msgs.length === 1) {
    out.push(p);
    return;
  }
  const mid = p.msgs.length >>> 1;
  fitting(pack(p.group, p.msgs.slice(0, mid)), maxBytes, out);
  fitting(pack(p.group, p.msgs.slice(mid)), maxBytes, out);
}

/**
 * Encodes items into payloads of at most maxBytes each: frames are packed greedily, a group's frame that does
 * not fit alone is split. A single message bigger than maxBytes still gets a payload of its own (one frame of
 * one message); the caller decides whether it may be sent at all.
 */
export function encodeBatches(items: readonly RaftItem[], maxBytes: number): Uint8Array[] {
  if (items.length === 0) return [];
  const payload = encodeItems(items);
  if (payload.length <= maxBytes) return [payload];
  const frames: Packed[] = [];
  for (const [group, msgs] of byGroup(items)) fitting(pack(group, msgs), maxBytes, frames);
  const payloads: Uint8Array[] = [];
  let current: Packed[] = [];
  let size = 0;
  for (const f of frames) {
    const s = frameSize(f);
    if (current.length > 0 && size + s > maxBytes) {
      payloads.push(join(current));
      current = [];
      size = 0;
    }
    current.push(f);
    size += s;
  }
  if (current.length > 0) payloads.push(join(current));
  return payloads;
}

function readVarint(payload: Uint8Array, at: { pos: number }, what: string): number {
  let n = 0;
  let scale = 1;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    if (at.pos >= payload.length) throw new DataLossError(`raft batch truncated in a frame's ${what}`);
    const b = payload[at.pos++]!;
    n += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) {
      if (!Number.isSafeInteger(n)) throw new DataLossError(`raft batch frame ${what} ${n} is not a safe integer`);
      return n;
    }
    scale *= 128;
  }
  throw new DataLossError(`raft batch frame ${what} is longer than ${MAX_VARINT_BYTES} bytes`);
}

/**
 * Splits a payload into its group frames without decoding any message; the frames' bytes are views into the
 * payload. Malformed framing (a truncated frame, an oversized varint, a length past the end) is a
 * DataLossError for the whole payload: after a broken frame nothing that follows can be trusted.
 */
export function splitFrames(payload: Uint8Array): RaftFrame[] {
  const frames: RaftFrame[] = [];
  const at = { pos: 0 };
  while (at.pos < payload.length) {
    const group = readVarint(payload, at, 'group');
    const length = readVarint(payload, at, 'length');
    if (length > payload.length - at.pos) throw new DataLossError(`raft batch frame of group ${group} claims ${length} bytes, ${payload.length - at.pos} left`);
    frames.push({ group, bytes: payload.subarray(at.pos, at.pos + length) });
    at.pos += length;
  }
  return frames;
}

/** Decodes one frame's bytes into its messages (unchecked plain data); not a msgpack array is a DataLossError. */
export function decodeFrame(bytes: Uint8Array): unknown[] {
  let value: unknown;
  try {
    value = packr.unpack(bytes);
  } catch (err) {
    throw new DataLossError(`undecodable raft frame: ${(err as Error).message}`);
  }
  if (!Array.isArray(value)) throw new DataLossError('raft frame is not an array of messages');
  return value;
}

/** Splits and decodes a whole payload (any malformed frame is a DataLossError). */
export function decodeItems(payload: Uint8Array): RaftItem[] {
  const items: RaftItem[] = [];
  for (const f of splitFrames(payload)) for (const msg of decodeFrame(f.bytes)) items.push({ group: f.group, msg });
  return items;
}
