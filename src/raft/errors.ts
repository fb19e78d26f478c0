// Owns the raft library's expected failures: requests the core refuses (typed, revivable across threads)
// and log ranges a LogReader cannot serve. Not-leader refusals use the shared NotLeaderError.
import { NokvError, registerErrorClass, type ErrorCode } from '../common/errors.js';

export type DropReason =
  /** The leader's uncommitted tail is at maxUncommittedEntriesBytes. */
  | 'uncommitted-limit'
  /** A leadership transfer is in progress; proposals would be lost with the old leader's term. */
  | 'transfer-in-progress'
  /** A membership change is proposed but not yet applied (single-step changes go one at a time). */
  | 'conf-change-pending'
  /** The membership change is invalid for the current configuration. */
  | 'conf-change-invalid'
  /** Too many ReadIndex requests are waiting (maxPendingReadIndex). */
  | 'read-limit'
  /** This node is not in the configuration it would act for. */
  | 'not-member';

const CODE_OF: Record<DropReason, ErrorCode> = {
  'uncommitted-limit': 'RESOURCE_EXHAUSTED',
  'transfer-in-progress': 'UNAVAILABLE',
  'conf-change-pending': 'FAILED_PRECONDITION',
  'conf-change-invalid': 'INVALID_ARGUMENT',
  'read-limit': 'RESOURCE_EXHAUSTED',
  'not-member': 'FAILED_PRECONDITION',
};

/** The core refused a proposal, conf change or read; nothing was appended. details.reason says why. */
export class ProposalDroppedError extends NokvError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    const reason = (details.reason as DropReason | undefined) ?? 'uncommitted-limit';
    super(CODE_OF[reason] ?? 'UNAVAILABLE', message, { ...details, reason });
  }
}

/** A log read asked for entries below firstIndex(): they live only in the snapshot now. */
export class LogCompactedError extends NokvError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('FAILED_PRECONDITION', message, details);
  }
}

/** A log read asked for entries above lastIndex(). */
export class LogUnavailableError extends NokvError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('NOT_FOUND', message, details);
  }
}

registerErrorClass('ProposalDroppedError', ProposalDroppedError);
registerErrorClass('LogCompactedError', LogCompactedError);
registerErrorClass('LogUnavailableError', LogUnavailableError);
