// Owns the typed errors of the fsmeta gateway. Each class has one gRPC status (its `code`), except the watch
// cursor error, which the gRPC front sends as OUT_OF_RANGE (a status the shared ErrorCode does not name).
import { NokvError, registerErrorClass, type ErrorCode } from '../common/errors.js';

function define(name: string, code: ErrorCode): new (message: string, details?: Record<string, unknown>) => NokvError {
  const cls = class extends NokvError {
    constructor(message: string, details: Record<string, unknown> = {}) {
      super(code, message, details);
      this.name = name;
    }
  };
  Object.defineProperty(cls, 'name', { value: name });
  registerErrorClass(name, cls);
  return cls;
}

/** A dentry, inode, session or mount that the call names does not exist. */
export const FsNotFoundError = define('FsNotFoundError', 'NOT_FOUND');
/** The name (or live session) is already taken. */
export const FsExistsError = define('FsExistsError', 'ALREADY_EXISTS');
/** A malformed request (bad name, zero inode, page too large, ...). */
export const FsInvalidError = define('FsInvalidError', 'INVALID_ARGUMENT');
/** The namespace is not in a state that allows the call (parent not a directory, non-empty dir, cycle). */
export const FsPreconditionError = define('FsPreconditionError', 'FAILED_PRECONDITION');
/** The mount exists but is retired; writes are refused. */
export const MountRetiredError = define('MountRetiredError', 'FAILED_PRECONDITION');
/** A quota fence would be exceeded. */
export const QuotaExceededError = define('QuotaExceededError', 'RESOURCE_EXHAUSTED');
/** A watch subscriber fell a whole window behind; the stream is closed. */
export const WatchOverflowError = define('WatchOverflowError', 'RESOURCE_EXHAUSTED');
/** The transaction kept conflicting with others until its retry budget ran out. */
export const TxnAbortedError = define('TxnAbortedError', 'ABORTED');
/** A resume cursor older than the gateway's history (sent as OUT_OF_RANGE). */
export const WatchCursorExpiredError = define('WatchCursorExpiredError', 'FAILED_PRECONDITION');

export type FsError = InstanceType<typeof FsNotFoundError>;
