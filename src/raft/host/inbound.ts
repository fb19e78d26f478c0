// Owns the inbound raft guard as one function, for hosts that step a group themselves (a region actor) rather
// than through MultiRaft.deliver: the message is validated (src/raft/validate.ts) and its sender checked
// against the group's membership before the core may see it; anything else is counted and dropped.
import type { DropLog } from '../../common/drop-log.js';
import type { ConfState, Message } from '../index.js';
import { senderIsMember, validateMessage } from '../validate.js';

export interface InboundCheck {
  drops: DropLog;
  groupId: number;
  /** This replica's node id (a message must be addressed to it). */
  nodeId: number;
  conf: ConfState;
  /** Whether a node id is a configured peer of this process (see senderIsMember). */
  isConfiguredPeer: (nodeId: number) => boolean;
}

/** The message, checked, or undefined when it was dropped (and counted in `drops`). */
export function admitInbound(fromNode: number, msg: unknown, c: InboundCheck): Message | undefined {
  const checked = validateMessage(msg, { from: fromNode, to: c.nodeId });
  if (!checked.ok) {
    c.drops.drop(fromNode, checked.reason, { group: c.groupId, field: checked.field });
    return undefined;
  }
  if (!senderIsMember(fromNode, c.conf, c.isConfiguredPeer, c.nodeId)) {
    c.drops.drop(fromNode, 'not-member', { group: c.groupId });
    return undefined;
  }
  return checked.value;
}
