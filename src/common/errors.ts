// Owns typed errors and their wire form. Expected failures are NokvError subclasses with a stable `code`
// that maps to exactly one gRPC status; anything else is a bug. Errors cross threads and processes as
// plain objects (serializeError) and come back as the same class (reviveError).

export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'FAILED_PRECONDITION'
  | 'UNAVAILABLE'
  | 'DEADLINE_EXCEEDED'
  | 'RESOURCE_EXHAUSTED'
  | 'ABORTED'
  | 'DATA_LOSS'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'INTERNAL';

export class NokvError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class InvalidArgumentError extends NokvError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('INVALID_ARGUMENT', message, details);
  }
}

export class FailedPreconditionError extends NokvError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('FAILED_PRECONDITION', message, details);
  }
}

export class UnavailableError extends NokvError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('UNAVAILABLE', message, details);
  }
}

export class TimeoutError extends NokvError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('DEADLINE_EXCEEDED', message, details);
  }
}

export class ResourceExhaustedError extends NokvError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('RESOURCE_EXHAUSTED', message, details);
  }
}

export class DataLossError extends NokvError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('DATA_LOSS', message, details);
  }
}

/** Raft (or a raft-backed service) is not the leader; `leaderId`/`leaderAddr` say who might be. */
export class NotLeaderError extends NokvError {
  constructor(message: string, details: { leaderId?: number | string; leaderAddr?: string } = {}) {
    super('FAILED_PRECONDITION', message, details);
  }
}

export interface SerializedError {
  name: string;
  code?: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
  stack?: string;
}

const registry = new Map<string, new (message: string, details: Record<string, unknown>) => NokvError>([
  ['InvalidArgumentError', InvalidArgumentError],
  ['FailedPreconditionError', FailedPreconditionError],
  ['UnavailableError', UnavailableError],
  ['TimeoutError', TimeoutError],
  ['ResourceExhaustedError', ResourceExhaustedError],
  ['DataLossError', DataLossError],
  ['NotLeaderError', NotLeaderError],
]);

/** Lets a module make its own NokvError subclass revivable by name. */
export function registerErrorClass(
  name: string,
  ctor: new (message: string, details: Record<string, unknown>) => NokvError,
): void {
  registry.set(name, ctor);
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof NokvError) {
    return { name: err.name, code: err.code, message: err.message, details: err.details, stack: err.stack };
  }
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack };
  return { name: 'Error', message: String(err) };
}

export function reviveError(s: SerializedError): Error {
  const ctor = registry.get(s.name);
  let err: Error;
  if (ctor) err = new ctor(s.message, s.details ?? {});
  else if (s.code) err = new NokvError(s.code, s.message, s.details ?? {});
  else {
    err = new Error(s.message);
    err.name = s.name;
  }
  if (s.stack) err.stack = s.stack;
  return err;
}
