// Owns the coordinator's typed errors beyond the shared ones: NOT_FOUND, and the client-side refusal of a
// reply from an era older than one already seen (Silence).
import { FailedPreconditionError, NokvError, registerErrorClass } from '../common/errors.js';

export { FailedPreconditionError };

export class NotFoundError extends NokvError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('NOT_FOUND', message, details);
  }
}

/** A reply came from an era below the client's era floor: an old holder spoke after a successor did. */
export class StaleEraError extends NokvError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('ABORTED', message, details);
  }
}

registerErrorClass('NotFoundError', NotFoundError);
registerErrorClass('StaleEraError', StaleEraError);

/** Whether err is a coordinator's "not holder" refusal (the caller should try another coordinator). */
export function isNotHolder(err: unknown): boolean {
  return err instanceof NokvError && err.code === 'FAILED_PRECONDITION' && (err.details?.reason === 'not_holder' || /not holder/.test(err.message));
}
