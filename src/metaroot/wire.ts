// Owns the mapping between the MetadataRoot proto messages and the rooted-state types, on both sides of the
// wire: cursors, outcomes, Eunomia requests and tail pages. Rooted records travel as JSON text (u64 values are
// already decimal strings in the state). Decoding never trusts its input: anything malformed is an
// InvalidArgumentError.
import { InvalidArgumentError } from '../common/errors.js';
import { loadProto, u64ToNumber, type LoadedProto } from '../transport/index.js';
import type {
  CommandOutcome,
  Cursor,
  FenceRequest,
  Frontiers,
  Handover,
  HandoverCommand,
  Legacy,
  RootEvent,
  TenureCommand,
  TenureView,
} from './state/index.js';
import type { TailEntry, TailPage } from './server/tail-hub.js';
import {
  eventsFromMsg,
  eventsToMsg,
  handoverRecordFromMsg,
  handoverRecordToMsg,
  legacyRecordFromMsg,
  legacyRecordToMsg,
} from './event-wire.js';
import type { CommandResponse as CommandResponseIn, CommandResponse__Output } from '../generated/proto/nokv/meta/v1/CommandResponse.js';
import type { Cursor as CursorIn, Cursor__Output } from '../generated/proto/nokv/meta/v1/Cursor.js';
import type { FenceAllocatorRequest, FenceAllocatorRequest__Output } from '../generated/proto/nokv/meta/v1/FenceAllocatorRequest.js';
import type { Frontiers as FrontiersIn, Frontiers__Output } from '../generated/proto/nokv/meta/v1/Frontiers.js';
import type { HandoverRequest as HandoverRequestIn, HandoverRequest__Output } from '../generated/proto/nokv/meta/v1/HandoverRequest.js';
import type { ReplicaView as ReplicaViewIn, ReplicaView__Output } from '../generated/proto/nokv/meta/v1/ReplicaView.js';
import type { TailEntry as TailEntryIn } from '../generated/proto/nokv/meta/v1/TailEntry.js';
import type { TailResponse as TailResponseIn, TailResponse__Output } from '../generated/proto/nokv/meta/v1/TailResponse.js';
import type { TenureRequest as TenureRequestIn, TenureRequest__Output } from '../generated/proto/nokv/meta/v1/TenureRequest.js';
import type { TenureView as TenureViewIn } from '../generated/proto/nokv/meta/v1/TenureView.js';

export const METADATA_ROOT_PROTO = 'nokv/meta/v1/metadata_root.proto';
export const METADATA_ROOT_SERVICE = 'nokv.meta.v1.MetadataRoot';

export function metadataRootProto(): LoadedProto {
  return loadProto(METADATA_ROOT_PROTO);
}

type U64In = string | number;

// The messages as the generated types describe them: `X` is what a sender may pass (u64 as number or string),
// `X__Output` what a receiver gets (u64 as decimal strings, unset messages as null).
export type CursorMsg = CursorIn;
export type CursorOut = Cursor__Output;
export type ReplicaViewMsg = ReplicaViewIn;
export type ReplicaViewOut = ReplicaView__Output;
export type TenureViewMsg = TenureViewIn;
export type CommandResponseMsg = CommandResponseIn;
export type FrontiersMsg = FrontiersIn;
export type TenureRequestMsg = TenureRequestIn;
export type HandoverRequestMsg = HandoverRequestIn;
export type FenceRequestMsg = FenceAllocatorRequest;
export type TailEntryMsg = TailEntryIn;
export type TailResponseMsg = TailResponseIn;

/** Which replica answered a read, and how far it had applied. */
export interface ReplicaView {
  node_id: number;
  is_leader: boolean;
  leader_id: number;
  leader_addr: string;
  raft_term: number;
  commit_index: number;
  applied_index: number;
  applied_cursor: Cursor;
}

// ---- numbers and cursors --------------------------------------------------------------------------------------

function num(v: U64In | undefined | null, what: string): number {
  if (v === undefined || v === null || v === '') return 0;
  try {
    return u64ToNumber(v);
  } catch {
    throw new InvalidArgumentError(`${what}: ${String(v)} is not a safe integer`);
  }
}

/** A u64 proto value as the state's canonical decimal string. */
function u64Text(v: U64In | undefined | null): string {
  if (v === undefined || v === null || v === '') return '0';
  const s = String(v);
  if (!/^(0|[1-9][0-9]*)$/.test(s)) throw new InvalidArgumentError(`not an unsigned integer: ${s}`);
  return s;
}

export function cursorToMsg(c: Cursor): CursorMsg {
  return { term: c.term, index: c.index };
}

export function cursorFromMsg(m: CursorOut | null | undefined): Cursor {
  return { term: num(m?.term, 'cursor.term'), index: num(m?.index, 'cursor.index') };
}

export function viewToMsg(v: ReplicaView): ReplicaViewMsg {
  return { ...v, applied_cursor: cursorToMsg(v.applied_cursor) };
}

export function viewFromMsg(m: ReplicaViewOut | null | undefined): ReplicaView {
  return {
    node_id: num(m?.node_id, 'view.node_id'),
    is_leader: m?.is_leader ?? false,
    leader_id: num(m?.leader_id, 'view.leader_id'),
    leader_addr: m?.leader_addr ?? '',
    raft_term: num(m?.raft_term, 'view.raft_term'),
    commit_index: num(m?.commit_index, 'view.commit_index'),
    applied_index: num(m?.applied_index, 'view.applied_index'),
    applied_cursor: cursorFromMsg(m?.applied_cursor),
  };
}

// ---- JSON text --------------------------------------------------------------------------------------------------

/** Parses JSON text from the wire; a syntax error is the caller's InvalidArgumentError. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

// ---- outcomes ---------------------------------------------------------------------------------------------------

/** The outcome without its error, as plain JSON data (also what a refusal carries in details.root_outcome). */
export type OutcomeData = Omit<CommandOutcome, 'error'>;

export function outcomeData(o: CommandOutcome): OutcomeData {
  const { error: _error, ...rest } = o;
  return rest;
}

export function outcomeToMsg(o: OutcomeData, view: ReplicaView): CommandResponseMsg {
  return {
    accepted: o.accepted,
    events: eventsToMsg(o.events),
    tenure: o.tenure ? { ...o.tenure } : null,
    legacy: legacyRecordToMsg(o.legacy),
    handover: handoverRecordToMsg(o.handover),
    id_fence: o.id_fence,
    tso_fence: o.tso_fence,
    cursor: cursorToMsg(o.cursor),
    view: viewToMsg(view),
  };
}

export function outcomeFromMsg(m: CommandResponse__Output): OutcomeData {
  const t = m.tenure;
  const tenure: TenureView | null = t
    ? {
        holder_id: t.holder_id,
        era: num(t.era, 'tenure.era'),
        expires_unix_ms: num(t.expires_unix_ms, 'tenure.expires_unix_ms'),
        mandate: t.mandate,
        sealed: t.sealed,
        active: t.active,
      }
    : null;
  return {
    accepted: m.accepted,
    events: eventsFromMsg(m.events),
    tenure,
    legacy: legacyRecordFromMsg(m.legacy),
    handover: handoverRecordFromMsg(m.handover),
    id_fence: u64Text(m.id_fence),
    tso_fence: u64Text(m.tso_fence),
    cursor: cursorFromMsg(m.cursor),
  };
}

// ---- Eunomia requests -------------------------------------------------------------------------------------------

function frontiersToMsg(f: Frontiers | undefined): FrontiersMsg | null {
  return f ? { alloc_id: f.alloc_id, tso: f.tso, region_lookup: f.region_lookup } : null;
}

function frontiersFromMsg(m: Frontiers__Output | null | undefined): Frontiers | undefined {
  if (!m) return undefined;
  return { alloc_id: u64Text(m.alloc_id), tso: u64Text(m.tso), region_lookup: u64Text(m.region_lookup) };
}

const TENURE_OPS: Record<string, TenureCommand['op']> = {
  TENURE_OP_ISSUE: 'issue',
  TENURE_OP_RENEW: 'renew',
  TENURE_OP_RELEASE: 'release',
};
const HANDOVER_OPS: Record<string, HandoverCommand['op']> = {
  HANDOVER_OP_SEAL: 'seal',
  HANDOVER_OP_CONFIRM: 'confirm',
  HANDOVER_OP_CLOSE: 'close',
  HANDOVER_OP_REATTACH: 'reattach',
};
const FENCE_KINDS: Record<string, FenceRequest['kind']> = { FENCE_KIND_ID: 'id', FENCE_KIND_TSO: 'tso' };

function opName<T extends string, N extends string>(table: Record<string, T>, op: T): N {
  return (Object.keys(table).find((k) => table[k] === op) ?? 'UNSPECIFIED') as N;
}

function opFrom<T extends string>(table: Record<string, T>, name: string, what: string): T {
  const op = Object.hasOwn(table, name) ? table[name] : undefined;
  if (!op) throw new InvalidArgumentError(`unknown ${what} ${JSON.stringify(name)}`);
  return op;
}

export function tenureToMsg(c: TenureCommand): TenureRequestMsg {
  return {
    op: opName(TENURE_OPS, c.op),
    holder_id: c.holder_id,
    era: 'era' in c ? c.era : 0,
    expires_unix_ms: 'expires_unix_ms' in c ? c.expires_unix_ms : 0,
    now_ms: c.now_ms,
    lineage_digest: c.op === 'issue' ? (c.lineage_digest ?? '') : '',
    frontiers: c.op === 'renew' ? null : frontiersToMsg(c.frontiers),
    mandate: c.op === 'issue' ? (c.mandate ?? 0) : 0,
  };
}

export function tenureFromMsg(m: TenureRequest__Output): TenureCommand {
  const op = opFrom(TENURE_OPS, m.op, 'tenure op');
  const base = { holder_id: m.holder_id, now_ms: num(m.now_ms, 'now_ms') };
  const frontiers = frontiersFromMsg(m.frontiers);
  switch (op) {
    case 'issue':
      return {
        op,
        ...base,
        expires_unix_ms: num(m.expires_unix_ms, 'expires_unix_ms'),
        ...(m.lineage_digest ? { lineage_digest: m.lineage_digest } : {}),
        ...(frontiers ? { frontiers } : {}),
        ...(m.mandate ? { mandate: m.mandate } : {}),
      };
    case 'renew':
      return { op, ...base, era: num(m.era, 'era'), expires_unix_ms: num(m.expires_unix_ms, 'expires_unix_ms') };
    case 'release':
      return { op, ...base, era: num(m.era, 'era'), ...(frontiers ? { frontiers } : {}) };
  }
}

export function handoverToMsg(c: HandoverCommand): HandoverRequestMsg {
  return { op: opName(HANDOVER_OPS, c.op), holder_id: c.holder_id, era: c.era, now_ms: c.now_ms, frontiers: c.op === 'seal' ? frontiersToMsg(c.frontiers) : null };
}

export function handoverFromMsg(m: HandoverRequest__Output): HandoverCommand {
  const op = opFrom(HANDOVER_OPS, m.op, 'handover op');
  const base = { holder_id: m.holder_id, era: num(m.era, 'era'), now_ms: num(m.now_ms, 'now_ms') };
  if (op === 'seal') {
    const frontiers = frontiersFromMsg(m.frontiers);
    if (!frontiers) throw new InvalidArgumentError('seal needs the frontiers the sealed era consumed');
    return { op, ...base, frontiers };
  }
  return { op, ...base };
}

export function fenceToMsg(r: FenceRequest): FenceRequestMsg {
  return { kind: opName(FENCE_KINDS, r.kind), minimum: r.minimum, holder_id: r.holder_id, era: r.era, now_ms: r.now_ms };
}

export function fenceFromMsg(m: FenceAllocatorRequest__Output): FenceRequest {
  return {
    kind: opFrom(FENCE_KINDS, m.kind, 'fence kind'),
    minimum: u64Text(m.minimum),
    holder_id: m.holder_id,
    era: num(m.era, 'era'),
    now_ms: num(m.now_ms, 'now_ms'),
  };
}

// ---- tail -------------------------------------------------------------------------------------------------------

export function tailToMsg(p: TailPage, view: ReplicaView): TailResponseMsg {
  return {
    view: viewToMsg(view),
    cursor: cursorToMsg(p.cursor),
    entries: p.entries.map((e) => ({ cursor: cursorToMsg(e.cursor), events: eventsToMsg(e.events) })),
    snapshot_required: p.snapshot_required,
    oldest: cursorToMsg(p.oldest),
  };
}

export function tailFromMsg(m: TailResponse__Output): TailPage & { view: ReplicaView } {
  return {
    view: viewFromMsg(m.view),
    cursor: cursorFromMsg(m.cursor),
    entries: (m.entries ?? []).map((e, i): TailEntry => ({ cursor: cursorFromMsg(e.cursor), events: eventsFromMsg(e.events, `entries[${i}].events`) })),
    snapshot_required: m.snapshot_required,
    oldest: cursorFromMsg(m.oldest),
  };
}
