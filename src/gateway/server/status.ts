// Owns the status an fsmeta error ends a call with, and its plain-data form: a watch session on a worker thread
// decides how its stream ends, while the call it ends lives on the main thread, so the status crosses as data
// (code, message and the typed-error trailer) and is rebuilt there.
import * as grpc from '@grpc/grpc-js';
import { UnavailableError } from '../../common/errors.js';
import { ERROR_TRAILER_KEY, toGrpcError } from '../../transport/grpc/errors.js';
import { WatchCursorExpiredError } from '../errors.js';

/** The status an fsmeta error travels as; an expired watch cursor is OUT_OF_RANGE. */
export function fsmetaStatus(err: unknown): grpc.StatusObject & Error {
  const e = toGrpcError(err);
  if (err instanceof WatchCursorExpiredError) e.code = grpc.status.OUT_OF_RANGE;
  return e;
}

/** A final status as plain data (survives structured clone and msgpack). */
export interface WireStatus {
  code: number;
  details: string;
  /** The typed error's ErrorDetail trailer, when it has one. */
  trailer?: Uint8Array;
}

export function wireStatus(err: unknown): WireStatus {
  const s = fsmetaStatus(err);
  const trailer = s.metadata?.get(ERROR_TRAILER_KEY)[0];
  return { code: s.code, details: s.details, ...(Buffer.isBuffer(trailer) ? { trailer: new Uint8Array(trailer) } : {}) };
}

export function statusOfWire(w: WireStatus): grpc.StatusObject & Error {
  const metadata = new grpc.Metadata();
  if (w.trailer) metadata.set(ERROR_TRAILER_KEY, Buffer.from(w.trailer.buffer, w.trailer.byteOffset, w.trailer.byteLength));
  const e = new Error(w.details) as grpc.StatusObject & Error;
  e.code = w.code;
  e.details = w.details;
  e.metadata = metadata;
  return e;
}

/** How a stream ends when its session actor stopped without ending it (crash, kill, its thread gone). */
export function sessionLostStatus(): WireStatus {
  return wireStatus(new UnavailableError('fsmeta: watch session ended; resume from your last cursor'));
}
