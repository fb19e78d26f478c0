// Stateless CPU jobs run by CpuPool's piscina threads. Each named export is one job: plain data in, plain
// data out, no shared state, so any pool thread can run any job.
import { pack } from 'msgpackr';
import { crc32Update } from '../common/crc32.js';

export function crc32(input: { data: Uint8Array; seed?: number }): number {
  return crc32Update(input.seed ?? 0, input.data);
}

/** Encodes a (big) value with msgpack off the calling thread; returns the bytes. */
export function msgpackEncode(input: { value: unknown }): Uint8Array {
  // Copy out of msgpackr's reusable buffer so the result owns exactly its bytes.
  return Uint8Array.from(pack(input.value));
}
