// Owns the supervisor's typed errors: the expected failures of its API (unknown child, child running, start
// failed) and the exit reason a supervisor gives when it gives up (restart intensity reached).
import { NokvError, registerErrorClass, serializeError } from '../common/errors.js';
import type { ExitReason } from './types.js';

export class ChildNotFoundError extends NokvError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('NOT_FOUND', message, details);
  }
}

/** The child exists already (running or not); OTP's already_started / already_present. */
export class ChildAlreadyExistsError extends NokvError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('ALREADY_EXISTS', message, details);
  }
}

/** The operation needs the child (or the supervisor) in another state, e.g. deleteChild of a running child. */
export class ChildStateError extends NokvError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('FAILED_PRECONDITION', message, details);
  }
}

/** A child's start() failed; `details.cause` carries the child's own error. */
export class ChildStartError extends NokvError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('UNAVAILABLE', message, details);
  }
}

/**
 * OTP's shutdown/reached_max_restart_intensity: the supervisor stopped all its children and exited. Its parent
 * sees an abnormal exit, so the failure escalates up the tree.
 */
export class RestartIntensityError extends NokvError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('ABORTED', message, details);
  }
}

/** An OS process child ended in a way that is neither a normal exit nor our own stop/kill. */
export class ProcessExitError extends NokvError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('UNAVAILABLE', message, details);
  }
}

registerErrorClass('ChildNotFoundError', ChildNotFoundError);
registerErrorClass('ChildAlreadyExistsError', ChildAlreadyExistsError);
registerErrorClass('ChildStateError', ChildStateError);
registerErrorClass('ChildStartError', ChildStartError);
registerErrorClass('RestartIntensityError', RestartIntensityError);
registerErrorClass('ProcessExitError', ProcessExitError);

export const REACHED_MAX_RESTART_INTENSITY = 'shutdown: reached_max_restart_intensity';

export function restartIntensityExit(supervisor: string, intensity: number, periodMs: number): ExitReason {
  const err = new RestartIntensityError(REACHED_MAX_RESTART_INTENSITY, { supervisor, intensity, periodMs });
  return { error: serializeError(err) };
}

/** True if this exit reason is a supervisor giving up after too many restarts. */
export function isRestartIntensityExit(reason: ExitReason): boolean {
  return typeof reason === 'object' && reason.error.name === 'RestartIntensityError';
}

/** A short, log-friendly rendering of an exit reason. */
export function describeExit(reason: ExitReason): string {
  return typeof reason === 'string' ? reason : `${reason.error.name}: ${reason.error.message}`;
}
