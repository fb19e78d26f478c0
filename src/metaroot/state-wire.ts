// Owns the mapping between the rooted state (plain data: snake_case records, u64 values as decimal strings, keys
// as lowercase hex, maps as objects keyed by id) and its typed proto messages: RootedState (Snapshot.state) and
// StateSummary (Status.summary). Maps travel as repeated records in key order, each record carrying its own key;
// enums travel as their proto names (STORE_STATE_JOINED ↔ 'joined').
//
// Decoding checks what the wire can get wrong (numbers a JS number cannot hold, unknown enum names) and then the
// whole state against the same shape check a raft snapshot passes (codec.ts), so a client gets a RootState it can
// trust as much as one read from disk, or an InvalidArgumentError naming the field.
import { InvalidArgumentError, NokvError } from '../common/errors.js';
import type { RootedState, RootedState__Output } from '../generated/proto/nokv/meta/v1/RootedState.js';
import type { StateSummary as StateSummaryMsg, StateSummary__Output } from '../generated/proto/nokv/meta/v1/StateSummary.js';
import {
  handoverRecordFromMsg,
  handoverRecordToMsg,
  idIn,
  isObj,
  legacyRecordFromMsg,
  legacyRecordToMsg,
  u64In,
  type Obj,
} from './event-wire.js';
import { checkStateShape } from './state/codec.js';
import type { Cursor, RootState, StateSummary } from './state/index.js';
import { MAP_NAMES, STATE_VERSION, type MapName } from './state/types.js';


/** How one field of a state record travels. */
type Kind =
  | 'id' // a JS number in the state, uint64/uint32 on the wire
  | 'u64' // a decimal string in the state, uint64 on the wire
  | 'text'
  | 'key' // lowercase hex in the state, bytes on the wire
  | 'cursor'
  | 'cursor?' // a cursor or null
  | { enum: string } // a lowercase literal in the state, PREFIX_LITERAL on the wire
  | { record: Spec; nullable?: true } // a nested record (or null when nullable)
  | { list: Kind };

type Spec = Readonly<Record<string, Kind>>;

const EPOCH: Spec = { version: 'id', conf_version: 'id' };
const PEER: Spec = { store_id: 'id', peer_id: 'id' };
const FRONTIERS: Spec = { alloc_id: 'u64', tso: 'u64', region_lookup: 'u64' };
const DESCRIPTOR: Spec = {
  region_id: 'id',
  start_key: 'key',
  end_key: 'key',
  epoch: { record: EPOCH },
  peers: { list: { record: PEER } },
  root_epoch: 'id',
  state: { enum: 'REGION_STATE_' },
};

/** Every map of the state: its record's fields and the field that is its key. */
const MAPS = {
  stores: {
    key: 'store_id',
    spec: { store_id: 'id', address: 'text', state: { enum: 'STORE_STATE_' }, joined_at: 'cursor', retired_at: 'cursor?' },
  },
  regions: { key: 'region_id', spec: DESCRIPTOR },
  pending_peer_changes: {
    key: 'region_id',
    spec: {
      kind: { enum: 'PEER_CHANGE_KIND_' },
      region_id: 'id',
      peer: { record: PEER },
      base: { record: DESCRIPTOR },
      target: { record: DESCRIPTOR },
    },
  },
  pending_range_changes: {
    key: 'region_id',
    spec: { kind: { enum: 'RANGE_CHANGE_KIND_' }, region_id: 'id', base: { list: { record: DESCRIPTOR } }, target_ids: { list: 'id' } },
  },
  mounts: {
    key: 'mount_id',
    spec: {
      mount_id: 'text',
      root_inode: 'id',
      schema_version: 'id',
      state: { enum: 'MOUNT_STATE_' },
      registered_at: 'cursor',
      retired_at: 'cursor?',
    },
  },
  subtrees: {
    key: 'subtree_id',
    spec: {
      subtree_id: 'text',
      mount_id: 'text',
      root_inode: 'id',
      authority_id: 'text',
      era: 'id',
      frontier: 'u64',
      handoff: { record: { from_authority: 'text', to_authority: 'text', era: 'id', started_at: 'cursor' }, nullable: true },
    },
  },
  snapshot_epochs: {
    key: 'snapshot_id',
    spec: { snapshot_id: 'text', mount_id: 'text', root_inode: 'id', read_version: 'u64', published_at: 'cursor' },
  },
  quotas: { key: 'subject', spec: { subject: 'text', limit_bytes: 'id', limit_inodes: 'id', era: 'id' } },
} as const satisfies Record<MapName, { key: string; spec: Spec }>;

const TENURE: Spec = {
  holder_id: 'text',
  era: 'id',
  expires_unix_ms: 'id',
  issued_at: 'cursor',
  mandate: 'id',
  lineage_digest: 'text',
  frontiers: { record: FRONTIERS },
};


// ---- to the wire ------------------------------------------------------------------------------------------------

function cursorOut(c: unknown): Obj | null {
  return isObj(c) ? { term: c.term, index: c.index } : null;
}

function valueOut(kind: Kind, v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (typeof kind === 'string') {
    switch (kind) {
      case 'id':
      case 'u64':
      case 'text':
        return v;
      case 'key':
        return Buffer.from(String(v), 'hex');
      case 'cursor':
      case 'cursor?':
        return cursorOut(v);
    }
  }
  if ('enum' in kind) return `${kind.enum}${String(v).toUpperCase()}`;
  if ('list' in kind) return Array.isArray(v) ? v.map((x) => valueOut(kind.list, x)) : [];
  return recordOut(kind.record, v);
}

function recordOut(spec: Spec, v: unknown): Obj {
  const src = isObj(v) ? v : {};
  const out: Obj = {};
  for (const [name, kind] of Object.entries(spec)) out[name] = valueOut(kind, src[name]);
  return out;
}

/** Ids sort numerically, names as strings: the order a reader of the list expects. */
function byKey(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  return Number.isSafeInteger(na) && Number.isSafeInteger(nb) ? na - nb : a < b ? -1 : a > b ? 1 : 0;
}

/** The whole rooted state as its proto message. */
export function stateToMsg(state: RootState): RootedState {
  const msg: Obj = {
    version: state.v,
    cluster_epoch: state.cluster_epoch,
    membership_epoch: state.membership_epoch,
    last_applied: cursorOut(state.last_applied),
    id_fence: state.id_fence,
    tso_fence: state.tso_fence,
    tenure: recordOut(TENURE, state.tenure),
    legacy: legacyRecordToMsg(state.legacy),
    handover: handoverRecordToMsg(state.handover),
  };
  for (const name of MAP_NAMES) {
    const map = state[name] as Record<string, unknown>;
    msg[name] = Object.keys(map)
      .sort(byKey)
      .map((k) => recordOut(MAPS[name].spec, map[k]));
  }
  return msg as RootedState;
}

// ---- from the wire ----------------------------------------------------------------------------------------------

function cursorIn(v: unknown, path: string): Cursor {
  const c = isObj(v) ? v : {};
  return { term: idIn(c.term, `${path}.term`), index: idIn(c.index, `${path}.index`) };
}

function valueIn(kind: Kind, v: unknown, path: string): unknown {
  if (typeof kind === 'string') {
    switch (kind) {
      case 'id':
        return idIn(v, path);
      case 'u64':
        return u64In(v, path);
      case 'text':
        return typeof v === 'string' ? v : '';
      case 'key':
        return v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex') : '';
      case 'cursor':
        return cursorIn(v, path);
      case 'cursor?':
        return isObj(v) ? cursorIn(v, path) : null;
    }
  }
  if ('enum' in kind) {
    const name = String(v ?? '');
    if (!name.startsWith(kind.enum) || name.endsWith('_UNSPECIFIED')) {
      throw new InvalidArgumentError(`${path}: ${JSON.stringify(name)} is not a ${kind.enum}* value`, { path });
    }
    return name.slice(kind.enum.length).toLowerCase();
  }
  if ('list' in kind) return (Array.isArray(v) ? v : []).map((x, i) => valueIn(kind.list, x, `${path}[${i}]`));
  if (kind.nullable && !isObj(v)) return null;
  return recordIn(kind.record, v, path);
}

function recordIn(spec: Spec, v: unknown, path: string): Obj {
  const src = isObj(v) ? v : {};
  const out: Obj = {};
  for (const [name, kind] of Object.entries(spec)) out[name] = valueIn(kind, src[name], `${path}.${name}`);
  return out;
}

/** A RootedState message as the rooted state; throws InvalidArgumentError when it is not a well-formed state. */
export function stateFromMsg(msg: RootedState__Output | RootedState | null | undefined): RootState {
  if (!isObj(msg)) throw new InvalidArgumentError('state: missing');
  const m = msg as Obj;
  const state: Obj = {
    v: idIn(m.version, 'state.version'),
    cluster_epoch: idIn(m.cluster_epoch, 'state.cluster_epoch'),
    membership_epoch: idIn(m.membership_epoch, 'state.membership_epoch'),
    last_applied: cursorIn(m.last_applied, 'state.last_applied'),
    id_fence: u64In(m.id_fence, 'state.id_fence'),
    tso_fence: u64In(m.tso_fence, 'state.tso_fence'),
    tenure: recordIn(TENURE, m.tenure, 'state.tenure'),
    legacy: legacyRecordFromMsg(m.legacy as never),
    handover: handoverRecordFromMsg(m.handover as never),
  };
  if (state.v !== STATE_VERSION) throw new InvalidArgumentError(`state.version: ${String(state.v)} is not ${STATE_VERSION}`);
  for (const name of MAP_NAMES) {
    const { key, spec } = MAPS[name];
    const map: Obj = {};
    const list = Array.isArray(m[name]) ? (m[name] as unknown[]) : [];
    list.forEach((item, i) => {
      const rec = recordIn(spec, item, `state.${name}[${i}]`);
      const k = String(rec[key]);
      if (Object.hasOwn(map, k)) throw new InvalidArgumentError(`state.${name}[${i}]: duplicate ${key} ${JSON.stringify(k)}`);
      map[k] = rec;
    });
    state[name] = map;
  }
  try {
    checkStateShape(state);
  } catch (err) {
    if (err instanceof NokvError && !(err instanceof InvalidArgumentError)) throw new InvalidArgumentError(err.message, err.details);
    throw err;
  }
  return state as unknown as RootState;
}

// ---- the summary --------------------------------------------------------------------------------------------------

const COUNTS = ['stores', 'regions', 'pending_peer_changes', 'pending_range_changes', 'mounts', 'subtrees', 'snapshot_epochs', 'quotas'] as const;

export function summaryToMsg(s: StateSummary): StateSummaryMsg {
  return {
    cluster_epoch: s.cluster_epoch,
    membership_epoch: s.membership_epoch,
    last_applied: cursorOut(s.last_applied),
    id_fence: s.id_fence,
    tso_fence: s.tso_fence,
    tenure: { ...s.tenure },
    legacy_era: s.legacy_era,
    handover_stage: s.handover_stage,
    counts: { ...s.counts },
  };
}

export function summaryFromMsg(msg: StateSummary__Output | StateSummaryMsg | null | undefined): StateSummary {
  const m = (isObj(msg) ? msg : {}) as Obj;
  const t = (isObj(m.tenure) ? m.tenure : {}) as Obj;
  const c = (isObj(m.counts) ? m.counts : {}) as Obj;
  const counts = {} as StateSummary['counts'];
  for (const k of COUNTS) counts[k] = idIn(c[k], `summary.counts.${k}`);
  return {
    cluster_epoch: idIn(m.cluster_epoch, 'summary.cluster_epoch'),
    membership_epoch: idIn(m.membership_epoch, 'summary.membership_epoch'),
    last_applied: cursorIn(m.last_applied, 'summary.last_applied'),
    id_fence: u64In(m.id_fence, 'summary.id_fence'),
    tso_fence: u64In(m.tso_fence, 'summary.tso_fence'),
    tenure: {
      holder_id: typeof t.holder_id === 'string' ? t.holder_id : '',
      era: idIn(t.era, 'summary.tenure.era'),
      expires_unix_ms: idIn(t.expires_unix_ms, 'summary.tenure.expires_unix_ms'),
      sealed: t.sealed === true,
    },
    legacy_era: idIn(m.legacy_era, 'summary.legacy_era'),
    handover_stage: typeof m.handover_stage === 'string' ? m.handover_stage : '',
    counts,
  };
}
