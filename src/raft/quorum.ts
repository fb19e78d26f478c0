// Owns majority arithmetic: the commit index a set of voters agrees on and the outcome of a vote.
// Pure functions over plain collections; knows nothing of progress or messages.
import type { NodeId } from './types.js';

export type VoteResult = 'won' | 'lost' | 'pending';

/** Votes needed to win among n voters. */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * Largest index acknowledged by a majority of voters; matchOf returns each voter's acknowledged index.
 * An empty voter set has no quorum, so it commits nothing (0).
 */
export function committedIndex(voters: Iterable<NodeId>, matchOf: (id: NodeId) => number): number {
  const matches: number[] = [];
  for (const id of voters) matches.push(matchOf(id));
  if (matches.length === 0) return 0;
  matches.sort((a, b) => b - a);
  return matches[majority(matches.length) - 1];
}

/** Outcome of an election given each voter's recorded answer (absent = not yet answered). */
export function voteResult(voters: Iterable<NodeId>, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  let n = 0;
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    n++;
    const v = votes.get(id);
    if (v === true) granted++;
    else if (v === false) rejected++;
  }
  if (n === 0) return 'lost';
  const need = majority(n);
  if (granted >= need) return 'won';
  if (n - rejected < need) return 'lost';
  return 'pending';
}

/** True if the ids in `active` include a majority of voters. */
export function hasQuorum(voters: Iterable<NodeId>, active: (id: NodeId) => boolean): boolean {
  let n = 0;
  let yes = 0;
  for (const id of voters) {
    n++;
    if (active(id)) yes++;
  }
  return n > 0 && yes >= majority(n);
}
