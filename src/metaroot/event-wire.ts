// Owns the mapping between rooted events (the state's plain-data form: `kind` + `v` + snake_case fields, u64
// values as decimal strings, keys as lowercase hex) and the typed RootedEvent proto message (a oneof member per
// kind, u64 ids and counters as uint64, keys as bytes). One table says, per kind, what each field is; the
// compiler checks that every kind has an entry, and a test round-trips every kind through the real encoding.
// Decoding checks only what the wire can get wrong (numbers a JS number cannot hold, a missing member); the
// event's shape and meaning are still checked by checkEventShape and apply, exactly as for any other source.
import { InvalidArgumentError } from '../common/errors.js';
import type { HandoverRecord, HandoverRecord__Output } from '../generated/proto/nokv/meta/v1/HandoverRecord.js';
import type { HandoverStage as HandoverStageMsg } from '../generated/proto/nokv/meta/v1/HandoverStage.js';
import type { LegacyRecord, LegacyRecord__Output } from '../generated/proto/nokv/meta/v1/LegacyRecord.js';
import type { RootedEvent, RootedEvent__Output } from '../generated/proto/nokv/meta/v1/RootedEvent.js';
import type { Cursor, Handover, HandoverStage, Legacy, RootEvent, RootEventKind } from './state/index.js';

/** How one field of an event travels. */
type FieldKind =
  | 'id' // a JS number in the state, uint64 on the wire
  | 'u32' // a JS number in the state, uint32 on the wire
  | 'u64' // a canonical decimal string in the state (fences, TSO values), uint64 on the wire
  | 'text'
  | 'key' // lowercase hex in the state, bytes on the wire
  | 'epoch'
  | 'peer'
  | 'region'
  | 'frontiers'
  | 'stage';

type Fields = Readonly<Record<string, FieldKind>>;

const regionRef: Fields = { region_id: 'id' };
const subtreeRef: Fields = { mount_id: 'text', root_inode: 'id' };

/** Every event kind and its fields (all but `kind` and `v`). */
export const EVENT_FIELDS: Readonly<Record<RootEventKind, Fields>> = {
  store_joined: { store_id: 'id', address: 'text' },
  store_retired: { store_id: 'id' },
  store_draining: { store_id: 'id' },
  region_bootstrap: { region: 'region' },
  region_descriptor_published: { region: 'region' },
  region_tombstoned: regionRef,
  split_planned: { parent_id: 'id', base_epoch: 'epoch', left: 'region', right: 'region' },
  split_committed: { parent_id: 'id' },
  split_cancelled: { parent_id: 'id' },
  merge_planned: { left_id: 'id', right_id: 'id', left_epoch: 'epoch', right_epoch: 'epoch', merged: 'region' },
  merge_committed: regionRef,
  merge_cancelled: regionRef,
  peer_addition_planned: { ...regionRef, base_epoch: 'epoch', peer: 'peer' },
  peer_added: regionRef,
  peer_addition_cancelled: regionRef,
  peer_removal_planned: { ...regionRef, base_epoch: 'epoch', peer: 'peer' },
  peer_removed: regionRef,
  peer_removal_cancelled: regionRef,
  id_fence_advanced: { minimum: 'u64' },
  tso_fence_advanced: { minimum: 'u64' },
  tenure: {
    holder_id: 'text',
    era: 'id',
    expires_unix_ms: 'id',
    mandate: 'u32',
    lineage_digest: 'text',
    frontiers: 'frontiers',
  },
  legacy: { holder_id: 'text', era: 'id', mandate: 'u32', frontiers: 'frontiers' },
  handover: { holder_id: 'text', legacy_era: 'id', successor_era: 'id', legacy_digest: 'text', stage: 'stage' },
  mount_registered: { ...subtreeRef, schema_version: 'u32' },
  mount_retired: { mount_id: 'text' },
  subtree_authority_declared: { ...subtreeRef, authority_id: 'text', era: 'id', frontier: 'u64' },
  subtree_handoff_started: { ...subtreeRef, from_authority: 'text', to_authority: 'text', era: 'id' },
  subtree_handoff_completed: { ...subtreeRef, to_authority: 'text', era: 'id', frontier: 'u64' },
  snapshot_epoch_published: { ...subtreeRef, read_version: 'u64' },
  snapshot_epoch_retired: { ...subtreeRef, read_version: 'u64' },
  quota_fence_updated: { subject: 'text', limit_bytes: 'id', limit_inodes: 'id', era: 'id' },
};

const EPOCH: Fields = { version: 'id', conf_version: 'id' };
const PEER: Fields = { store_id: 'id', peer_id: 'id' };
const FRONTIERS: Fields = { alloc_id: 'u64', tso: 'u64', region_lookup: 'u64' };
const REGION_SCALARS: Fields = { region_id: 'id', start_key: 'key', end_key: 'key', epoch: 'epoch' };

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

// ---- to the wire ------------------------------------------------------------------------------------------------

function stageOut(stage: unknown): HandoverStageMsg {
  return `HANDOVER_STAGE_${String(stage).toUpperCase()}` as HandoverStageMsg;
}

function valueOut(kind: FieldKind, v: unknown): unknown {
  if (v === undefined || v === null) return undefined;
  switch (kind) {
    case 'id':
    case 'u32':
    case 'u64':
    case 'text':
      return v;
    case 'key':
      return Buffer.from(String(v), 'hex');
    case 'epoch':
      return fieldsOut(EPOCH, v);
    case 'peer':
      return fieldsOut(PEER, v);
    case 'frontiers':
      return fieldsOut(FRONTIERS, v);
    case 'stage':
      return stageOut(v);
    case 'region': {
      const out = fieldsOut(REGION_SCALARS, v);
      const peers = isObj(v) && Array.isArray(v.peers) ? v.peers : [];
      return { ...out, peers: peers.map((p) => fieldsOut(PEER, p)) };
    }
  }
}

function fieldsOut(spec: Fields, v: unknown): Obj {
  const src = isObj(v) ? v : {};
  const out: Obj = {};
  for (const [name, kind] of Object.entries(spec)) {
    const value = valueOut(kind, src[name]);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** A rooted event as its proto message (the event is assumed well formed: it came from the state or a checker). */
export function eventToMsg(ev: RootEvent): RootedEvent {
  if (!Object.hasOwn(EVENT_FIELDS, ev.kind)) throw new InvalidArgumentError(`unknown event kind ${JSON.stringify(ev.kind)}`);
  return { v: ev.v, [ev.kind]: fieldsOut(EVENT_FIELDS[ev.kind], ev) } as RootedEvent;
}

// ---- from the wire ----------------------------------------------------------------------------------------------

/** A uint64/uint32 field as a JS number; InvalidArgumentError naming `path` when it is not a safe integer. */
export function idIn(v: unknown, path: string): number {
  const n = typeof v === 'number' ? v : Number(v ?? 0);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`${path}: ${String(v)} is not a safe integer`, { path });
  return n;
}

/** A uint64 field as the state's canonical decimal string; InvalidArgumentError naming `path` otherwise. */
export function u64In(v: unknown, path: string): string {
  const s = String(v ?? '0');
  if (!/^(0|[1-9][0-9]{0,19})$/.test(s)) throw new InvalidArgumentError(`${path}: ${s} is not an unsigned 64-bit integer`, { path });
  return s;
}

function stageIn(v: unknown, path: string): HandoverStage {
  const name = String(v ?? '');
  const stage = name.startsWith('HANDOVER_STAGE_') ? name.slice('HANDOVER_STAGE_'.length).toLowerCase() : '';
  if (stage !== 'confirmed' && stage !== 'closed' && stage !== 'reattached') {
    throw new InvalidArgumentError(`${path}: unknown handover stage ${JSON.stringify(name)}`, { path });
  }
  return stage;
}

function valueIn(kind: FieldKind, v: unknown, path: string): unknown {
  switch (kind) {
    case 'id':
    case 'u32':
      return idIn(v, path);
    case 'u64':
      return u64In(v, path);
    case 'text':
      return typeof v === 'string' ? v : '';
    case 'key':
      return v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex') : '';
    case 'stage':
      return stageIn(v, path);
    case 'epoch':
      return isObj(v) ? fieldsIn(EPOCH, v, path) : undefined;
    case 'peer':
      return isObj(v) ? fieldsIn(PEER, v, path) : undefined;
    case 'frontiers':
      return isObj(v) ? fieldsIn(FRONTIERS, v, path) : undefined;
    case 'region': {
      if (!isObj(v)) return undefined;
      const peers = Array.isArray(v.peers) ? v.peers : [];
      return { ...fieldsIn(REGION_SCALARS, v, path), peers: peers.map((p, i) => fieldsIn(PEER, isObj(p) ? p : {}, `${path}.peers[${i}]`)) };
    }
  }
}

function fieldsIn(spec: Fields, msg: Obj, path: string): Obj {
  const out: Obj = {};
  for (const [name, kind] of Object.entries(spec)) {
    const value = valueIn(kind, msg[name], `${path}.${name}`);
    if (value !== undefined) out[name] = value; // an unset message field stays missing: the shape check refuses it
  }
  return out;
}

/** A RootedEvent message as the state's event form; throws InvalidArgumentError for what the wire got wrong. */
export function eventFromMsg(msg: RootedEvent__Output | RootedEvent | null | undefined, path = 'event'): RootEvent {
  const m = (msg ?? {}) as Obj;
  const kind = (typeof m.event === 'string' ? m.event : Object.keys(EVENT_FIELDS).find((k) => isObj(m[k]))) as RootEventKind | undefined;
  if (!kind || !Object.hasOwn(EVENT_FIELDS, kind) || !isObj(m[kind])) {
    throw new InvalidArgumentError(`${path}: no event set in RootedEvent`, { path });
  }
  return { kind, v: idIn(m.v, `${path}.v`), ...fieldsIn(EVENT_FIELDS[kind], m[kind] as Obj, `${path}.${kind}`) } as unknown as RootEvent;
}

export function eventsToMsg(events: readonly RootEvent[]): RootedEvent[] {
  return events.map(eventToMsg);
}

export function eventsFromMsg(msgs: readonly (RootedEvent__Output | RootedEvent)[] | null | undefined, path = 'events'): RootEvent[] {
  return (msgs ?? []).map((m, i) => eventFromMsg(m, `${path}[${i}]`));
}

// ---- legacy and handover records --------------------------------------------------------------------------------

const CURSOR: Fields = { term: 'id', index: 'id' };

function cursorIn(v: unknown, path: string): Cursor | null {
  return isObj(v) ? (fieldsIn(CURSOR, v, path) as unknown as Cursor) : null;
}

export function legacyRecordToMsg(l: Legacy | null): LegacyRecord | null {
  if (!l) return null;
  return { ...fieldsOut(EVENT_FIELDS.legacy, l), sealed_at: { term: l.sealed_at.term, index: l.sealed_at.index } } as LegacyRecord;
}

export function legacyRecordFromMsg(m: LegacyRecord__Output | LegacyRecord | null | undefined): Legacy | null {
  if (!m) return null;
  const base = fieldsIn(EVENT_FIELDS.legacy, m as Obj, 'legacy');
  return { ...base, sealed_at: cursorIn(m.sealed_at, 'legacy.sealed_at') ?? { term: 0, index: 0 } } as unknown as Legacy;
}

export function handoverRecordToMsg(h: Handover | null): HandoverRecord | null {
  if (!h) return null;
  const at = (c: Cursor | null) => (c ? { term: c.term, index: c.index } : null);
  return {
    ...fieldsOut(EVENT_FIELDS.handover, h),
    confirmed_at: at(h.confirmed_at),
    closed_at: at(h.closed_at),
    reattached_at: at(h.reattached_at),
  } as HandoverRecord;
}

export function handoverRecordFromMsg(m: HandoverRecord__Output | HandoverRecord | null | undefined): Handover | null {
  if (!m) return null;
  const base = fieldsIn(EVENT_FIELDS.handover, m as Obj, 'handover');
  return {
    ...base,
    confirmed_at: cursorIn(m.confirmed_at, 'handover.confirmed_at') ?? { term: 0, index: 0 },
    closed_at: cursorIn(m.closed_at, 'handover.closed_at'),
    reattached_at: cursorIn(m.reattached_at, 'handover.reattached_at'),
  } as unknown as Handover;
}
