// Owns the rooted state of one replica as a raft StateMachine: every committed entry is decoded into a
// RootCommand and decided by applyCommand against the state at that log position, on every replica in log
// order, so leader and followers hold the same state at the same index. Listeners (the tail hub) hear every
// applied command and every snapshot install.
import { DataLossError, InvalidArgumentError } from '../../common/errors.js';
import type { AppliedEntry, StateMachine } from '../../raft/host/replicated.js';
import {
  applyCommand,
  decodeCommand,
  decodeSnapshot,
  emptyState,
  encodeSnapshot,
  tenureView,
  type CommandOutcome,
  type Cursor,
  type RootState,
} from '../state/index.js';

export interface ApplyListener {
  applied(cursor: Cursor, outcome: CommandOutcome): void;
  restored(state: RootState): void;
}

export class RootStateMachine implements StateMachine<CommandOutcome> {
  private current: RootState = emptyState();
  private readonly listeners = new Set<ApplyListener>();
  private undecodable = 0;

  get state(): RootState {
    return this.current;
  }

  /** Entries that did not decode as a command (recorded as refused no-ops; see apply). */
  get undecodableEntries(): number {
    return this.undecodable;
  }

  listen(l: ApplyListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  apply(entry: AppliedEntry): CommandOutcome {
    const cursor: Cursor = { term: entry.term, index: entry.index };
    if (entry.index <= this.current.last_applied.index) return this.replayedOutcome();
    let command: unknown;
    try {
      command = decodeCommand(entry.data);
    } catch (err) {
      // A leader only proposes commands that encodeCommand accepted, so a malformed one means a newer writer
      // with a command version this replica does not know. Every replica decides it the same way: refused.
      // Undecodable bytes are corruption and stop the replica.
      if (err instanceof DataLossError) throw err;
      if (!(err instanceof InvalidArgumentError)) throw err;
      this.undecodable++;
      command = { malformed: true };
    }
    const { state, outcome } = applyCommand(this.current, command, cursor);
    this.current = state;
    for (const l of this.listeners) l.applied(cursor, outcome);
    return outcome;
  }

  snapshot(): Uint8Array {
    return encodeSnapshot(this.current);
  }

  restore(data: Uint8Array, _index: number, _term: number): void {
    this.current = decodeSnapshot(data);
    for (const l of this.listeners) l.restored(this.current);
  }

  private replayedOutcome(): CommandOutcome {
    const s = this.current;
    return {
      accepted: true,
      events: [],
      error: null,
      tenure: tenureView(s, 0),
      legacy: s.legacy,
      handover: s.handover,
      id_fence: s.id_fence,
      tso_fence: s.tso_fence,
      cursor: s.last_applied,
    };
  }
}
