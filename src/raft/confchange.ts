// Owns single-step membership changes: the ConfChange vocabulary, its byte encoding inside a log entry,
// and the pure rule that turns one ConfState into the next. One voter changes at a time, so any majority
// of the old configuration overlaps any majority of the new one.
import type { ConfState, NodeId } from './types.js';

export enum ConfChangeType {
  /** Adds a voter, or promotes an existing learner to voter. */
  AddVoter = 1,
  /** Adds a non-voting learner that receives the log but never counts toward quorum. */
  AddLearner = 2,
  /** Removes a voter or learner. */
  RemoveNode = 3,
}

export interface ConfChange {
  type: ConfChangeType;
  nodeId: NodeId;
  /** Opaque application data carried with the change (e.g. the new peer's address). */
  context?: Uint8Array;
}

const HEADER_BYTES = 5; // 1 type byte + 4 node-id bytes (big-endian)
const MAX_NODE_ID = 0xffffffff;

export function encodeConfChange(cc: ConfChange): Uint8Array {
  if (!Number.isInteger(cc.nodeId) || cc.nodeId <= 0 || cc.nodeId > MAX_NODE_ID) {
    throw new RangeError(`conf change node id out of range: ${cc.nodeId}`);
  }
  const ctx = cc.context ?? new Uint8Array(0);
  const out = new Uint8Array(HEADER_BYTES + ctx.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, cc.type);
  view.setUint32(1, cc.nodeId);
  out.set(ctx, HEADER_BYTES);
  return out;
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  if (data.length < HEADER_BYTES) throw new RangeError(`conf change too short: ${data.length} bytes`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const type = view.getUint8(0) as ConfChangeType;
  if (type !== ConfChangeType.AddVoter && type !== ConfChangeType.AddLearner && type !== ConfChangeType.RemoveNode) {
    throw new RangeError(`unknown conf change type ${type}`);
  }
  const cc: ConfChange = { type, nodeId: view.getUint32(1) };
  if (data.length > HEADER_BYTES) cc.context = data.slice(HEADER_BYTES);
  return cc;
}

/**
 * The configuration after cc, or a string saying why cc does not apply. Rejections are deterministic in
 * (conf, cc), so every replica applying the same committed entry reaches the same answer.
 */
export function nextConfState(conf: ConfState, cc: ConfChange): ConfState | string {
  const voters = conf.voters.filter((v) => v !== cc.nodeId);
  const learners = conf.learners.filter((l) => l !== cc.nodeId);
  const isVoter = conf.voters.includes(cc.nodeId);
  const isLearner = conf.learners.includes(cc.nodeId);
  switch (cc.type) {
    case ConfChangeType.AddVoter:
      if (isVoter) return `node ${cc.nodeId} is already a voter`;
      return { voters: sorted([...voters, cc.nodeId]), learners };
    case ConfChangeType.AddLearner:
      // Demoting a voter in one step could shrink a quorum under a leader that counted it: refuse.
      if (isVoter) return `node ${cc.nodeId} is a voter; remove it before adding it as a learner`;
      if (isLearner) return `node ${cc.nodeId} is already a learner`;
      return { voters, learners: sorted([...learners, cc.nodeId]) };
    case ConfChangeType.RemoveNode:
      if (!isVoter && !isLearner) return `node ${cc.nodeId} is not a member`;
      if (isVoter && voters.length === 0) return 'cannot remove the last voter';
      return { voters, learners };
  }
}

function sorted(ids: NodeId[]): NodeId[] {
  return ids.sort((a, b) => a - b);
}
