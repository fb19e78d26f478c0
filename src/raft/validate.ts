// Owns the check every raft message from the network passes before the core sees it: the shape, types and
// ranges of its fields (validateMessage) and whether its sender belongs to the group (senderIsMember).
// The core trusts its input — an out-of-range term reaches storage and fails the group, a malformed entry
// breaks a log invariant — so a message that fails here is dropped, never stepped. Both functions are pure
// (no clock, no I/O, no state beyond their arguments) and return a typed reason instead of throwing, so the
// host can count and log drops and a check can run on any thread that decodes raft bytes.
import type { Message, MessageType } from './messages.js';
import { EntryType, type ConfState, type Entry, type Snapshot } from './types.js';

/**
 * Largest term, index or node id accepted from a peer. Half the safe-integer range: the core adds to these
 * (term + 1 on a campaign, index + entries.length) and the sum must stay exact and storable as a u64. No real
 * group gets near it (a new term per millisecond would take 140,000 years).
 */
export const MAX_RAFT_NUMBER = 2 ** 52;
/** Entries one append may carry: maxSizePerMsgBytes (1 MiB) of empty entries is about 43,000. */
export const MAX_ENTRIES_PER_MESSAGE = 65_536;
/** Longest ReadIndex context: the host's ids are `<node>:<counter>`, a few dozen bytes. */
export const MAX_CONTEXT_BYTES = 256;
/** Members listed in one snapshot's configuration. */
export const MAX_CONF_MEMBERS = 1_024;

const MESSAGE_TYPES: ReadonlySet<string> = new Set<MessageType>([
  'app', 'appResp', 'vote', 'voteResp', 'preVote', 'preVoteResp', 'heartbeat', 'heartbeatResp', 'snap', 'timeoutNow', 'readIndex', 'readIndexResp',
]);

export type InboundDropReason =
  /** Not an object with the message fields, or a field of the wrong type. */
  | 'malformed'
  /** `type` is not one of the core's message types. */
  | 'unknown-type'
  /** A number outside [0, MAX_RAFT_NUMBER] or not an integer (e.g. a u64 term near 2^64). */
  | 'out-of-range'
  /** Entries that are not contiguous after `index`, go back in term, or exceed the message's term. */
  | 'bad-entries'
  /** A snapshot on a message that is not `snap`, a `snap` without one, or a malformed one. */
  | 'bad-snapshot'
  /** `from` differs from the node the transport authenticated, or `to` is not this node. */
  | 'wrong-address'
  /** The sender is not a voter or learner of the group (nor a configured peer while this replica joins). */
  | 'not-member'
  /** No group with that id is hosted here. */
  | 'unknown-group';

export type Checked<T> = { ok: true; value: T } | { ok: false; reason: InboundDropReason; field?: string };

/** Who the transport says sent the message (authenticated) and who received it. */
export interface LinkEnds {
  from: number;
  to: number;
}

/**
 * Checks `raw` (decoded from the wire) against the message vocabulary and returns a fresh Message holding only
 * the known fields, so nothing else a sender added travels into the core.
 */
export function validateMessage(raw: unknown, link: LinkEnds): Checked<Message> {
  if (!isRecord(raw)) return bad('malformed');
  if (typeof raw.type !== 'string' || !MESSAGE_TYPES.has(raw.type)) return bad('unknown-type', 'type');
  const type = raw.type as MessageType;
  const nums = {} as Record<'from' | 'to' | 'term' | 'logTerm' | 'index' | 'commit' | 'rejectHint', number>;
  // The core always sends every field, so a missing one (or a null) is malformed, not zero.
  for (const f of ['from', 'to', 'term', 'logTerm', 'index', 'commit', 'rejectHint'] as const) {
    const v = raw[f];
    if (!isRaftNumber(v)) return bad(typeof v === 'number' || typeof v === 'bigint' ? 'out-of-range' : 'malformed', f);
    nums[f] = v;
  }
  if (nums.from !== link.from || nums.from === 0) return bad('wrong-address', 'from');
  if (nums.to !== link.to) return bad('wrong-address', 'to');
  if (typeof raw.reject !== 'boolean') return bad('malformed', 'reject');
  if (raw.transfer !== undefined && typeof raw.transfer !== 'boolean') return bad('malformed', 'transfer');
  if (raw.context !== undefined && !(raw.context instanceof Uint8Array && raw.context.length <= MAX_CONTEXT_BYTES)) return bad('malformed', 'context');

  const entries = checkEntries(raw.entries, type, nums);
  if (!entries.ok) return entries;
  const msg: Message = { type, ...nums, entries: entries.value, reject: raw.reject === true };
  if (raw.transfer === true) msg.transfer = true;
  if (raw.context !== undefined) msg.context = raw.context as Uint8Array;
  if ((raw.snapshot !== undefined) !== (type === 'snap')) return bad('bad-snapshot', 'snapshot');
  if (type === 'snap') {
    const snap = checkSnapshot(raw.snapshot, nums.term);
    if (!snap.ok) return snap;
    msg.snapshot = snap.value;
  }
  return { ok: true, value: msg };
}

/**
 * Whether `from` may send raft traffic for a group whose configuration (as this replica knows it) is `conf`:
 * a current voter or learner. A replica that knows no configuration yet (a member being added, waiting for its
 * first snapshot) accepts any peer configured for the process, since it cannot tell the leader apart yet; so
 * does a replica `self` whose known configuration does not include itself — a member being added that installed
 * an old snapshot (its founders' membership) and catches up from the log, whose leader may be a store added
 * since: only the log it has not replayed yet says so.
 */
export function senderIsMember(from: number, conf: ConfState, isConfiguredPeer: (id: number) => boolean, self?: number): boolean {
  if (conf.voters.length === 0 && conf.learners.length === 0) return isConfiguredPeer(from);
  if (self !== undefined && !conf.voters.includes(self) && !conf.learners.includes(self)) return isConfiguredPeer(from);
  return conf.voters.includes(from) || conf.learners.includes(from);
}

function checkEntries(raw: unknown, type: MessageType, m: { index: number; logTerm: number; term: number }): Checked<Entry[]> {
  if (!Array.isArray(raw)) return bad('malformed', 'entries');
  if (raw.length === 0) return { ok: true, value: [] };
  if (type !== 'app' || raw.length > MAX_ENTRIES_PER_MESSAGE) return bad('bad-entries', 'entries');
  const out: Entry[] = new Array(raw.length);
  let prevTerm = m.logTerm;
  for (let i = 0; i < raw.length; i++) {
    const e: unknown = raw[i];
    if (!isRecord(e) || !(e.data instanceof Uint8Array) || (e.type !== EntryType.Normal && e.type !== EntryType.ConfChange)) {
      return bad('malformed', `entries[${i}]`);
    }
    if (!isRaftNumber(e.term) || !isRaftNumber(e.index)) return bad('out-of-range', `entries[${i}]`);
    // A log's terms never go down, and a leader only sends entries of its term or older.
    if (e.index !== m.index + 1 + i || e.term < prevTerm || e.term > m.term) return bad('bad-entries', `entries[${i}]`);
    prevTerm = e.term;
    out[i] = { term: e.term, index: e.index, type: e.type, data: e.data };
  }
  return { ok: true, value: out };
}

function checkSnapshot(raw: unknown, msgTerm: number): Checked<Snapshot> {
  if (!isRecord(raw) || !(raw.data instanceof Uint8Array) || !isRecord(raw.meta)) return bad('bad-snapshot', 'snapshot');
  const { index, term, conf } = raw.meta;
  if (!isRaftNumber(index) || !isRaftNumber(term) || index === 0 || term === 0 || term > msgTerm) return bad('bad-snapshot', 'snapshot.meta');
  if (!isRecord(conf)) return bad('bad-snapshot', 'snapshot.meta.conf');
  const voters = nodeIds(conf.voters);
  const learners = nodeIds(conf.learners);
  if (!voters || !learners || voters.length === 0 || learners.some((id) => voters.includes(id))) return bad('bad-snapshot', 'snapshot.meta.conf');
  return { ok: true, value: { meta: { index, term, conf: { voters, learners } }, data: raw.data } };
}

/** A list of distinct node ids, or undefined. */
function nodeIds(raw: unknown): number[] | undefined {
  if (!Array.isArray(raw) || raw.length > MAX_CONF_MEMBERS) return undefined;
  if (!raw.every((id) => isRaftNumber(id) && id > 0)) return undefined;
  return new Set(raw).size === raw.length ? [...(raw as number[])] : undefined;
}

function isRaftNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_RAFT_NUMBER;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function bad(reason: InboundDropReason, field?: string): { ok: false; reason: InboundDropReason; field?: string } {
  return field === undefined ? { ok: false, reason } : { ok: false, reason, field };
}
