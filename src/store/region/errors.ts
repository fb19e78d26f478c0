// Owns the typed region errors: a request reached a store that cannot serve it as addressed. They cross gRPC
// as status + typed trailer and are revived by name on the client, which reacts to each (see client/router).
// NotLeader uses the shared NotLeaderError with details { regionId, leaderId (store id), leaderAddr }.
import { NokvError, registerErrorClass } from '../../common/errors.js';

/** The store hosts no replica of the region. */
export class RegionNotFoundError extends NokvError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('NOT_FOUND', message, details);
  }
}

/** The request's epoch is not the region's; details.regions holds the store's current descriptors. */
export class EpochNotMatchError extends NokvError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('FAILED_PRECONDITION', message, details);
  }
}

/** A key of the request lies outside the region's range. */
export class KeyNotInRegionError extends NokvError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('FAILED_PRECONDITION', message, details);
  }
}

/** The request names another store. */
export class StoreNotMatchError extends NokvError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('FAILED_PRECONDITION', message, details);
  }
}

registerErrorClass('RegionNotFoundError', RegionNotFoundError);
registerErrorClass('EpochNotMatchError', EpochNotMatchError);
registerErrorClass('KeyNotInRegionError', KeyNotInRegionError);
registerErrorClass('StoreNotMatchError', StoreNotMatchError);

export function isRegionError(err: unknown): boolean {
  return err instanceof RegionNotFoundError || err instanceof EpochNotMatchError || err instanceof KeyNotInRegionError;
}
