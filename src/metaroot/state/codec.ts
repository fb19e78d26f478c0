// Owns the bytes of the meta-root: commands as raft entry data and whole-state snapshots, both msgpack of plain
// data. A snapshot carries the entire rooted state, so a lagging or new replica catches up from one snapshot
// plus the entries after it. Decoding never trusts its input: undecodable bytes are DataLossError, a decodable
// but malformed command is InvalidArgumentError, and a snapshot that fails its shape check is DataLossError.
import { Packr } from 'msgpackr';
import { DataLossError, InvalidArgumentError, NokvError } from '../../common/errors.js';
import type { RootState } from './types.js';
import { STATE_VERSION } from './types.js';
import { checkCommandShape, type RootCommand } from './commands.js';
import { frontiersShape } from './events.js';
import {
  array,
  hexKey,
  literal,
  name,
  nullable,
  object,
  posInt,
  record,
  text,
  u64,
  uint,
  type Check,
} from './schema.js';

/** Largest encoded command (one raft entry's data). */
export const MAX_COMMAND_BYTES = 4 * 1024 * 1024;
/** Most entries in any one map of a snapshot; a bound on what a decoder will walk. */
export const MAX_SNAPSHOT_MAP_ENTRIES = 1_000_000;

const SNAPSHOT_FORMAT = 'nokv.metaroot.state';

// useRecords: false keeps the encoding plain msgpack maps (no shared-structure extension), so bytes depend only
// on the data and any msgpack reader can inspect them.
const packr = new Packr({ useRecords: false, moreTypes: false });

function pack(v: unknown): Uint8Array {
  // msgpackr may return a view into its reusable buffer; copy so the caller owns the bytes.
  return new Uint8Array(packr.pack(v));
}

function unpack(bytes: Uint8Array, what: string): unknown {
  if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError(`${what}: expected bytes`);
  try {
    return packr.unpack(bytes);
  } catch (err) {
    throw new DataLossError(`${what}: undecodable bytes (${(err as Error).message})`, { bytes: bytes.length });
  }
}

export function encodeCommand(command: RootCommand): Uint8Array {
  checkCommandShape(command);
  const bytes = pack(command);
  if (bytes.length > MAX_COMMAND_BYTES) {
    throw new InvalidArgumentError(`command is ${bytes.length} bytes, over the ${MAX_COMMAND_BYTES}-byte limit`, { bytes: bytes.length });
  }
  return bytes;
}

export function decodeCommand(bytes: Uint8Array): RootCommand {
  if (bytes.length > MAX_COMMAND_BYTES) {
    throw new InvalidArgumentError(`command is ${bytes.length} bytes, over the ${MAX_COMMAND_BYTES}-byte limit`, { bytes: bytes.length });
  }
  const value = unpack(bytes, 'command');
  checkCommandShape(value);
  return value;
}

// ---- snapshot shape ---------------------------------------------------------------------------------------------

const cursor = object({ term: uint, index: uint });
const epoch = object({ version: uint, conf_version: uint });
const peer = object({ store_id: posInt, peer_id: posInt });
const descriptor = object({
  region_id: posInt,
  start_key: hexKey,
  end_key: hexKey,
  epoch,
  peers: array(peer, 64),
  root_epoch: uint,
  state: literal('running', 'splitting', 'merging', 'changing_peers'),
});
/** Map keys of numeric ids must be the canonical decimal form the state writes. */
const idKey: Check = (v, p) => {
  posInt(Number(v), p);
  if (String(Number(v)) !== v) throw new InvalidArgumentError(`malformed ${p}: expected a canonical decimal id`);
};
const M = MAX_SNAPSHOT_MAP_ENTRIES;

const stateShape = object({
  v: literal(STATE_VERSION),
  cluster_epoch: uint,
  membership_epoch: uint,
  last_applied: cursor,
  id_fence: u64,
  tso_fence: u64,
  tenure: object({
    holder_id: text,
    era: uint,
    expires_unix_ms: uint,
    issued_at: cursor,
    mandate: uint,
    lineage_digest: text,
    frontiers: frontiersShape,
  }),
  legacy: nullable(object({ holder_id: name, era: posInt, mandate: uint, frontiers: frontiersShape, sealed_at: cursor })),
  handover: nullable(
    object({
      holder_id: name,
      legacy_era: posInt,
      successor_era: posInt,
      legacy_digest: text,
      stage: literal('confirmed', 'closed', 'reattached'),
      confirmed_at: cursor,
      closed_at: nullable(cursor),
      reattached_at: nullable(cursor),
    }),
  ),
  stores: record(idKey, object({ store_id: posInt, address: text, state: literal('joined', 'draining', 'retired'), joined_at: cursor, retired_at: nullable(cursor) }), M),
  regions: record(idKey, descriptor, M),
  pending_peer_changes: record(idKey, object({ kind: literal('add', 'remove'), region_id: posInt, peer, base: descriptor, target: descriptor }), M),
  pending_range_changes: record(
    idKey,
    object({ kind: literal('split', 'merge'), region_id: posInt, base: array(descriptor, 2), target_ids: array(posInt, 2) }),
    M,
  ),
  mounts: record(
    name,
    object({ mount_id: name, root_inode: uint, schema_version: uint, state: literal('registered', 'retired'), registered_at: cursor, retired_at: nullable(cursor) }),
    M,
  ),
  subtrees: record(
    name,
    object({
      subtree_id: name,
      mount_id: name,
      root_inode: uint,
      authority_id: text,
      era: uint,
      frontier: u64,
      handoff: nullable(object({ from_authority: name, to_authority: name, era: posInt, started_at: cursor })),
    }),
    M,
  ),
  snapshot_epochs: record(name, object({ snapshot_id: name, mount_id: name, root_inode: uint, read_version: u64, published_at: cursor }), M),
  quotas: record(name, object({ subject: name, limit_bytes: uint, limit_inodes: uint, era: posInt }), M),
});

/** Throws InvalidArgumentError unless `value` has the shape of a rooted state (what a snapshot must hold). */
export function checkStateShape(value: unknown): asserts value is RootState {
  stateShape(value, 'state');
}

export function encodeSnapshot(state: RootState): Uint8Array {
  return pack({ format: SNAPSHOT_FORMAT, v: STATE_VERSION, state });
}

export function decodeSnapshot(bytes: Uint8Array): RootState {
  const value = unpack(bytes, 'snapshot');
  try {
    object({ format: literal(SNAPSHOT_FORMAT), v: literal(STATE_VERSION), state: stateShape })(value, 'snapshot');
  } catch (err) {
    if (err instanceof NokvError) throw new DataLossError(`corrupt snapshot: ${err.message}`, err.details);
    throw err;
  }
  return (value as { state: RootState }).state;
}
