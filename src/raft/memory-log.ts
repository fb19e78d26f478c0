// Owns an in-memory raft storage: the durable side of a node for tests and the simulator. It implements
// LogReader for the core plus the writes a host performs when handling a Ready (append, hard state,
// snapshot) and the application's compaction. "Durable" here means: survives a simulated crash.
import { assert } from './assert.js';
import { LogCompactedError, LogUnavailableError } from './errors.js';
import { limitSize } from './log.js';
import type { ConfState, Entry, HardState, LogReader, Snapshot } from './types.js';

export class MemoryLog implements LogReader {
  private hard: HardState = { term: 0, vote: 0, commit: 0 };
  private snap: Snapshot;
  /** ents[0] is a placeholder for the snapshot's last entry (index, term); real entries follow. */
  private ents: Entry[];

  /**
   * A founding member of a new group (conf lists the initial voters; data is the initial application state)
   * starts from the bootstrap snapshot; a node joining later (no conf) starts empty and receives a snapshot.
   */
  constructor(conf: ConfState = { voters: [], learners: [] }, data: Uint8Array = new Uint8Array(0)) {
    if (conf.voters.length > 0) {
      const boot = bootstrapState(conf, data);
      this.snap = boot.snapshot;
      this.hard = boot.hardState;
    } else {
      this.snap = { meta: { index: 0, term: 0, conf: cloneConf(conf) }, data: new Uint8Array(0) };
    }
    this.ents = [placeholder(this.snap.meta.index, this.snap.meta.term)];
  }

  initialState(): { hardState: HardState; conf: ConfState } {
    return { hardState: { ...this.hard }, conf: cloneConf(this.snap.meta.conf) };
  }

  entries(lo: number, hi: number, maxBytes = Infinity): Entry[] {
    const offset = this.ents[0].index;
    if (lo <= offset) throw new LogCompactedError(`entries from ${lo} are compacted (first ${offset + 1})`);
    if (hi > this.lastIndex() + 1) throw new LogUnavailableError(`entries up to ${hi - 1} not present (last ${this.lastIndex()})`);
    if (lo >= hi) return [];
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxBytes);
  }

  term(i: number): number {
    const offset = this.ents[0].index;
    if (i < offset) throw new LogCompactedError(`term of ${i} is compacted (snapshot ${offset})`);
    if (i > this.lastIndex()) throw new LogUnavailableError(`term of ${i} not present (last ${this.lastIndex()})`);
    return this.ents[i - offset].term;
  }

  firstIndex(): number {
    return this.ents[0].index + 1;
  }

  lastIndex(): number {
    return this.ents[0].index + this.ents.length - 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  hardState(): HardState {
    return { ...this.hard };
  }

  setHardState(hs: HardState): void {
    this.hard = { ...hs };
  }

  /**
   * Persists entries from a Ready. An entry at an index already present replaces it and everything after
   * it (a new leader overwrote an uncommitted tail). Entries below the snapshot are ignored.
   */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    let ents = entries;
    if (ents[ents.length - 1].index < first) return;
    if (ents[0].index < first) ents = ents.slice(first - ents[0].index);
    const at = ents[0].index - this.ents[0].index;
    assert(at <= this.ents.length, () => `append at ${ents[0].index} leaves a gap after ${this.lastIndex()}`);
    // In place: the common case is a pure append, and copying the whole log per Ready would be quadratic.
    this.ents.length = at;
    for (const e of ents) this.ents.push(e);
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  applySnapshot(snap: Snapshot): void {
    if (snap.meta.index <= this.snap.meta.index) return;
    this.snap = { meta: { ...snap.meta, conf: cloneConf(snap.meta.conf) }, data: snap.data };
    // Keep entries after the snapshot if they agree with it (they are still valid log entries).
    const offset = this.ents[0].index;
    const i = snap.meta.index;
    if (i <= this.lastIndex() && i >= offset && this.ents[i - offset].term === snap.meta.term) {
      this.ents = [placeholder(i, snap.meta.term), ...this.ents.slice(i - offset + 1)];
    } else {
      this.ents = [placeholder(i, snap.meta.term)];
    }
    if (this.hard.commit < i) this.hard = { ...this.hard, commit: i };
  }

  /**
   * Takes a snapshot of the application state `data` at applied index `index` (with the membership `conf`
   * in force there) and discards the entries it covers. index must be committed and present.
   */
  compact(index: number, data: Uint8Array, conf: ConfState): void {
    const offset = this.ents[0].index;
    if (index <= offset) return;
    assert(index <= this.lastIndex(), () => `compact ${index} beyond last index ${this.lastIndex()}`);
    assert(index <= this.hard.commit, () => `compact ${index} beyond persisted commit ${this.hard.commit}`);
    const term = this.ents[index - offset].term;
    this.snap = { meta: { index, term, conf: cloneConf(conf) }, data };
    this.ents = [placeholder(index, term), ...this.ents.slice(index - offset + 1)];
  }
}

/**
 * What every founding member of a new group persists before its first start: the same snapshot at
 * (index 1, term 1) holding the initial configuration and application state, and a hard state that has
 * committed it. Because the log then starts after index 1, a node added later can never rebuild the
 * configuration by replaying entries (the founders are not in any entry): the leader must send it a
 * snapshot, which carries the configuration.
 */
export function bootstrapState(conf: ConfState, data: Uint8Array = new Uint8Array(0)): { snapshot: Snapshot; hardState: HardState } {
  if (conf.voters.length === 0) throw new RangeError('a new group needs at least one voter');
  return {
    snapshot: { meta: { index: BOOTSTRAP_INDEX, term: BOOTSTRAP_TERM, conf: cloneConf(conf) }, data },
    hardState: { term: BOOTSTRAP_TERM, vote: 0, commit: BOOTSTRAP_INDEX },
  };
}

export const BOOTSTRAP_INDEX = 1;
export const BOOTSTRAP_TERM = 1;

function placeholder(index: number, term: number): Entry {
  return { index, term, type: 0, data: new Uint8Array(0) };
}

function cloneConf(c: ConfState): ConfState {
  return { voters: [...c.voters], learners: [...c.learners] };
}
