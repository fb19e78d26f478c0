// Owns what the coordinator needs from meta-root, as an interface: the MetaRootClient satisfies it in
// production and an in-process fake (test/fixtures) in unit tests. Refusals come back as values
// (accepted=false with a typed error); only transport failures (UNAVAILABLE, deadline) throw.
import type {
  CommandOutcome,
  Cursor,
  FenceRequest,
  HandoverCommand,
  RootEvent,
  RootState,
  TenureCommand,
} from '../metaroot/state/index.js';

/** The part of a command outcome the coordinator reads (all of it but the appended events). */
export type RootOutcome = Omit<CommandOutcome, 'events'>;

export interface TailEntry {
  cursor: Cursor;
  events: RootEvent[];
}

export interface TailResult {
  cursor: Cursor;
  entries: TailEntry[];
  /** The tail no longer reaches back to `after` (compacted): reload a snapshot. */
  snapshot_required: boolean;
}

export interface RootPort {
  snapshot(opts?: { linearizable?: boolean }): Promise<{ state: RootState; cursor: Cursor }>;
  append(events: RootEvent[]): Promise<RootOutcome>;
  fenceAllocator(req: FenceRequest): Promise<RootOutcome>;
  applyTenure(cmd: TenureCommand): Promise<RootOutcome>;
  applyHandover(cmd: HandoverCommand): Promise<RootOutcome>;
  waitTail(req: { after: Cursor; timeoutMs: number }): Promise<TailResult>;
  close(): Promise<void> | void;
}
