// Owns the raft host's own expected failure: a group that stopped because it could not keep its durability
// promise (a persist, snapshot or compaction failed, or the state machine threw). Callers see UNAVAILABLE
// and should go to another replica; the process supervisor decides whether to restart the node.
import { NokvError, registerErrorClass } from '../../common/errors.js';

export class RaftGroupFailedError extends NokvError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('UNAVAILABLE', message, details);
  }

  static from(groupId: number, nodeId: number, cause: unknown): RaftGroupFailedError {
    const why = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    const err = new RaftGroupFailedError(`raft group ${groupId} on node ${nodeId} stopped after a failure: ${why}`, { groupId, nodeId, cause: why });
    (err as { cause?: unknown }).cause = cause;
    return err;
  }
}

registerErrorClass('RaftGroupFailedError', RaftGroupFailedError);
