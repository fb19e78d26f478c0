// Owns what travels through raft for the meta-root: a versioned RootCommand, and the one function every replica
// runs on each committed entry, in log order: applyCommand(state, command, cursor).
//
// Approach: the command (with its caller-supplied now_ms) is what is replicated, not pre-computed events. Every
// replica decides it against its own applied state, which is identical on all replicas at that log position, so
// all reach the same outcome: accepted with the events it appended, or refused with a typed error. The leader
// may run the same decision before proposing (evaluateCommand) to answer obvious refusals early, but the answer
// a client gets is the outcome of the applied entry, so a command that became invalid while in flight (a
// successor took over, a region moved) is a recorded no-op rather than a silent divergence.
import { FailedPreconditionError, InvalidArgumentError, NokvError } from '../../common/errors.js';
import type { Cursor, Handover, Legacy, RootState } from './types.js';
import type { RootEvent } from './events.js';
import { AUTHORITY_EVENT_KINDS, MAX_EVENTS_PER_BATCH, checkEventShape, frontiersShape } from './events.js';
import { applyBatch, noteApplied } from './apply.js';
import {
  decideFence,
  decideHandover,
  decideTenure,
  tenureView,
  type Decision,
  type FenceRequest,
  type HandoverCommand,
  type TenureCommand,
  type TenureView,
} from './eunomia.js';
import { isPlainObject, literal, name, object, optional, posInt, text, u64, uint, type Check } from './schema.js';
import type { U64 } from './u64.js';

export const COMMAND_VERSION = 1;

export type RootCommand =
  /** Raw rooted events (membership, regions, mounts, quotas...). Eunomia and fence kinds are refused here. */
  | { type: 'append'; v: typeof COMMAND_VERSION; events: RootEvent[] }
  | { type: 'tenure'; v: typeof COMMAND_VERSION; cmd: TenureCommand }
  | { type: 'handover'; v: typeof COMMAND_VERSION; cmd: HandoverCommand }
  | { type: 'fence'; v: typeof COMMAND_VERSION; req: FenceRequest };

export interface CommandOutcome {
  accepted: boolean;
  /** Events appended by this command (empty when refused or when it changed nothing). */
  events: RootEvent[];
  /** The typed refusal; for Eunomia refusals details carry {reason, holder_id, era, expires_unix_ms, sealed}. */
  error: NokvError | null;
  /** The tenure at the command's now_ms after applying (null for append, which carries no time). */
  tenure: TenureView | null;
  legacy: Legacy | null;
  handover: Handover | null;
  id_fence: U64;
  tso_fence: U64;
  cursor: Cursor;
}

const time: Check = uint;
const tenureShape: Record<string, Check> = {
  issue: object({
    holder_id: name,
    expires_unix_ms: time,
    now_ms: time,
    lineage_digest: optional(text),
    frontiers: optional(frontiersShape),
    mandate: optional((v, p) => {
      posInt(v, p);
      if (((v as number) & ~7) !== 0) throw new InvalidArgumentError(`malformed ${p}: unknown mandate bits`);
    }),
  }),
  renew: object({ holder_id: name, era: posInt, expires_unix_ms: time, now_ms: time }),
  release: object({ holder_id: name, era: posInt, now_ms: time, frontiers: optional(frontiersShape) }),
};
const handoverBase = { holder_id: name, era: posInt, now_ms: time };
const handoverShape: Record<string, Check> = {
  seal: object({ ...handoverBase, frontiers: frontiersShape }),
  confirm: object(handoverBase),
  close: object(handoverBase),
  reattach: object(handoverBase),
};
const fenceShape = object({ kind: literal('id', 'tso'), minimum: u64, holder_id: name, era: posInt, now_ms: time });

function checkOp(shapes: Record<string, Check>, v: unknown, path: string): void {
  if (!isPlainObject(v) || typeof v.op !== 'string' || !Object.hasOwn(shapes, v.op)) {
    throw new InvalidArgumentError(`malformed ${path}: unknown op ${JSON.stringify(isPlainObject(v) ? v.op : undefined)}`);
  }
  shapes[v.op](v, path);
}

/** Throws InvalidArgumentError unless `c` is a well-formed command of a known type and version. */
export function checkCommandShape(c: unknown): asserts c is RootCommand {
  if (!isPlainObject(c)) throw new InvalidArgumentError('malformed command: expected an object');
  if (c.v !== COMMAND_VERSION) throw new InvalidArgumentError(`unsupported command version ${JSON.stringify(c.v)}`);
  switch (c.type) {
    case 'append': {
      const events = c.events;
      if (!Array.isArray(events)) throw new InvalidArgumentError('malformed command.events: expected an array');
      if (events.length > MAX_EVENTS_PER_BATCH) {
        throw new InvalidArgumentError(`batch of ${events.length} events exceeds ${MAX_EVENTS_PER_BATCH}`, { count: events.length });
      }
      events.forEach((ev, i) => checkEventShape(ev, `command.events[${i}]`));
      return;
    }
    case 'tenure': return checkOp(tenureShape, c.cmd, 'command.cmd');
    case 'handover': return checkOp(handoverShape, c.cmd, 'command.cmd');
    case 'fence': return fenceShape(c.req, 'command.req');
    default: throw new InvalidArgumentError(`unknown command type ${JSON.stringify(c.type)}`);
  }
}

/** The decision this command would get against `state`; pure, changes nothing. */
export function evaluateCommand(state: RootState, command: unknown): Decision {
  try {
    checkCommandShape(command);
  } catch (err) {
    if (err instanceof InvalidArgumentError) return { accepted: false, error: err };
    throw err;
  }
  switch (command.type) {
    case 'append': {
      const forbidden = command.events.find((ev) => AUTHORITY_EVENT_KINDS.has(ev.kind));
      if (forbidden) {
        return { accepted: false, error: new InvalidArgumentError(`${forbidden.kind} events are written only by Eunomia commands`) };
      }
      return { accepted: true, events: command.events };
    }
    case 'tenure': return decideTenure(state, command.cmd);
    case 'handover': return decideHandover(state, command.cmd);
    case 'fence': return decideFence(state, command.req);
  }
}

function nowOf(command: unknown): number | null {
  if (!isPlainObject(command)) return null;
  const body = command.type === 'fence' ? command.req : command.cmd;
  return isPlainObject(body) && typeof body.now_ms === 'number' ? body.now_ms : null;
}

function outcome(state: RootState, command: unknown, decision: Decision, events: RootEvent[]): CommandOutcome {
  const now = nowOf(command);
  return {
    accepted: decision.accepted,
    events,
    error: decision.accepted ? null : decision.error,
    tenure: now === null ? null : tenureView(state, now),
    legacy: state.legacy,
    handover: state.handover,
    id_fence: state.id_fence,
    tso_fence: state.tso_fence,
    cursor: state.last_applied,
  };
}

/**
 * Applies one committed command at `cursor` (the raft entry's term and index). Always advances last_applied;
 * a refused command changes nothing else. Throws only if `cursor` is not after last_applied (the host applied
 * an entry twice: skip entries with index <= state.last_applied.index, e.g. after loading a snapshot).
 */
export function applyCommand(state: RootState, command: unknown, cursor: Cursor): { state: RootState; outcome: CommandOutcome } {
  if (!(cursor.index > state.last_applied.index)) {
    throw new FailedPreconditionError(`entry ${cursor.index} is already applied (last applied ${state.last_applied.index})`, {
      last_applied: state.last_applied,
    });
  }
  const decision = evaluateCommand(state, command);
  if (decision.accepted) {
    try {
      const next = applyBatch(state, decision.events, cursor);
      return { state: next, outcome: outcome(next, command, decision, decision.events) };
    } catch (err) {
      if (!(err instanceof NokvError)) throw err;
      const next = noteApplied(state, cursor);
      return { state: next, outcome: outcome(next, command, { accepted: false, error: err }, []) };
    }
  }
  const next = noteApplied(state, cursor);
  return { state: next, outcome: outcome(next, command, decision, []) };
}

export function applyTenure(state: RootState, cmd: TenureCommand, cursor: Cursor): { state: RootState; outcome: CommandOutcome } {
  return applyCommand(state, { type: 'tenure', v: COMMAND_VERSION, cmd }, cursor);
}

export function applyHandover(state: RootState, cmd: HandoverCommand, cursor: Cursor): { state: RootState; outcome: CommandOutcome } {
  return applyCommand(state, { type: 'handover', v: COMMAND_VERSION, cmd }, cursor);
}

export function applyFence(state: RootState, req: FenceRequest, cursor: Cursor): { state: RootState; outcome: CommandOutcome } {
  return applyCommand(state, { type: 'fence', v: COMMAND_VERSION, req }, cursor);
}

export function applyAppend(state: RootState, events: RootEvent[], cursor: Cursor): { state: RootState; outcome: CommandOutcome } {
  return applyCommand(state, { type: 'append', v: COMMAND_VERSION, events }, cursor);
}
