// Owns the mapping between typed errors and gRPC statuses at process boundaries.
//
// A NokvError crosses the wire as its gRPC status (ErrorCode names are gRPC status names) plus one trailer,
// `x-nokv-error-bin`: the binary encoding of `nokv.common.v1.ErrorDetail` (name, code, message, and details as
// JSON text per key). The trailer carries what a status cannot, such as a NotLeaderError's
// `leaderId`/`leaderAddr`, and lets the client revive the same class with reviveError(). Stacks never leave the
// process. Any other error becomes INTERNAL with a one-line message.
import * as grpc from '@grpc/grpc-js';
import { decodeErrorDetail, encodeErrorDetail } from './error-detail.js';
import {
  NokvError,
  reviveError,
  TimeoutError,
  UnavailableError,
  type ErrorCode,
  type SerializedError,
} from '../../common/errors.js';

/** Trailer key holding a NokvError as an ErrorDetail message (`-bin`: binary metadata). */
export const ERROR_TRAILER_KEY = 'x-nokv-error-bin';
/** Longest message sent for an unexpected error; the rest stays in the server log. */
export const MAX_INTERNAL_MESSAGE_CHARS = 200;

/**
 * Missing or wrong credentials. Not a NokvError because the shared ErrorCode has no UNAUTHENTICATED;
 * it carries the same `code`/`details` shape so callers can treat it alike.
 */
export class UnauthenticatedError extends Error {
  readonly code = 'UNAUTHENTICATED' as const;
  constructor(message: string, readonly details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'UnauthenticatedError';
  }
}

export type GrpcError = grpc.StatusObject & Error;

/** The gRPC status for a NokvError code. */
export function grpcStatusOf(code: ErrorCode): grpc.status {
  const s = grpc.status[code as keyof typeof grpc.status];
  return typeof s === 'number' ? s : grpc.status.INTERNAL;
}

/** What a server handler passes to its callback (or destroys a stream with) for `err`. */
export function toGrpcError(err: unknown): GrpcError {
  const metadata = new grpc.Metadata();
  if (err instanceof NokvError || err instanceof UnauthenticatedError) {
    const code = err instanceof NokvError ? grpcStatusOf(err.code) : grpc.status.UNAUTHENTICATED;
    const wire: SerializedError = { name: err.name, code: err.code as ErrorCode, message: err.message, details: err.details };
    metadata.set(ERROR_TRAILER_KEY, encodeErrorDetail(wire));
    return statusError(code, err.message, metadata);
  }
  const raw = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  const oneLine = raw.split('\n', 1)[0].slice(0, MAX_INTERNAL_MESSAGE_CHARS);
  return statusError(grpc.status.INTERNAL, `internal error: ${oneLine}`, metadata);
}

/** The typed error for a failed call: the revived NokvError if the server sent one, else one by status. */
export function fromGrpcError(err: unknown): Error {
  if (!isServiceError(err)) return err instanceof Error ? err : new Error(String(err));
  const message = err.details || err.message;
  const wire = readTrailer(err.metadata);
  if (wire) {
    if (wire.name === 'UnauthenticatedError') return new UnauthenticatedError(wire.message, wire.details ?? {});
    return reviveError({ ...wire, stack: undefined });
  }
  return errorForStatus(err.code, message);
}

function errorForStatus(code: grpc.status, message: string): Error {
  const name = grpc.status[code] ?? 'UNKNOWN';
  switch (code) {
    case grpc.status.DEADLINE_EXCEEDED:
      return new TimeoutError(message);
    case grpc.status.UNAVAILABLE:
      return new UnavailableError(message);
    case grpc.status.CANCELLED:
      return new UnavailableError(message, { grpcCode: name });
    case grpc.status.UNAUTHENTICATED:
    case grpc.status.PERMISSION_DENIED:
      return new UnauthenticatedError(message, { grpcCode: name });
    case grpc.status.OUT_OF_RANGE:
      return reviveError({ name: 'InvalidArgumentError', code: 'INVALID_ARGUMENT', message, details: { grpcCode: name } });
    case grpc.status.INVALID_ARGUMENT:
    case grpc.status.NOT_FOUND:
    case grpc.status.ALREADY_EXISTS:
    case grpc.status.FAILED_PRECONDITION:
    case grpc.status.RESOURCE_EXHAUSTED:
    case grpc.status.ABORTED:
    case grpc.status.DATA_LOSS:
    case grpc.status.INTERNAL:
      return reviveError({ name: classNameFor(name as ErrorCode), code: name as ErrorCode, message });
    default:
      return new NokvError('INTERNAL', message, { grpcCode: name });
  }
}

/** The shared error classes that own a code outright (NotLeaderError shares FAILED_PRECONDITION, so not it). */
function classNameFor(code: ErrorCode): string {
  const byCode: Partial<Record<ErrorCode, string>> = {
    INVALID_ARGUMENT: 'InvalidArgumentError',
    FAILED_PRECONDITION: 'FailedPreconditionError',
    RESOURCE_EXHAUSTED: 'ResourceExhaustedError',
    DATA_LOSS: 'DataLossError',
  };
  return byCode[code] ?? 'NokvError';
}

export function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as Partial<grpc.ServiceError>).code === 'number' && 'metadata' in err;
}

function readTrailer(md: grpc.Metadata | undefined): SerializedError | undefined {
  const value = md?.get(ERROR_TRAILER_KEY)[0];
  return Buffer.isBuffer(value) ? decodeErrorDetail(value) : undefined;
}

function statusError(code: grpc.status, details: string, metadata: grpc.Metadata): GrpcError {
  const e = new Error(details) as GrpcError;
  e.code = code;
  e.details = details;
  e.metadata = metadata;
  return e;
}
