// Owns the raft library's bug checks. A failed assertion means the core (or a host breaking the Ready
// contract) is wrong; it is never an expected failure, so it is a plain Error the supervisor reacts to.

export class RaftInvariantError extends Error {
  constructor(message: string) {
    super(`raft invariant violated: ${message}`);
    this.name = 'RaftInvariantError';
  }
}

export function assert(cond: unknown, message: string | (() => string)): asserts cond {
  if (!cond) throw new RaftInvariantError(typeof message === 'string' ? message : message());
}
