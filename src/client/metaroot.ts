// Owns the public MetaRootClient: the meta-root client library (leader following on a "not leader" hint or a
// dead endpoint, retries with backoff and jitter, a deadline per call and per attempt) plus watch(), which
// follows the rooted truth log from a cursor with long polls and resumes from the last delivered entry after
// any failure the client retries, so a watcher sees every committed entry once and in order.
import { NokvError } from '../common/errors.js';
import { MetaRootClient as Inner, type Cursor, type RootEvent } from '../metaroot/client.js';

export type { MetaRootClientOptions, StatusReply, SnapshotReply, Cursor, RootEvent, RootState } from '../metaroot/client.js';

export interface RootLogEntry {
  /** Position of the entry in the rooted log; watch({ after: cursor }) continues after it. */
  cursor: Cursor;
  events: RootEvent[];
}

export interface RootWatchOptions {
  /** Deliver entries after this cursor (default: from the start of what the replicas retain). */
  after?: Cursor;
  /** Longest single long poll (the server caps it). */
  pollMs?: number;
  /** Ends the watch (the loop finishes without an error, at the latest when the current long poll returns). */
  signal?: AbortSignal;
}

export class MetaRootClient extends Inner {
  /**
   * The rooted log's entries after `after`, as they commit. A cursor older than the replicas retain ends the
   * watch with FAILED_PRECONDITION: read snapshot() and watch again from its cursor.
   */
  async *watch(o: RootWatchOptions = {}): AsyncGenerator<RootLogEntry> {
    let after: Cursor = o.after ?? { term: 0, index: 0 };
    const pollMs = o.pollMs ?? 5_000;
    while (!o.signal?.aborted) {
      const page = await this.waitTail({ after, timeoutMs: pollMs });
      if (page.snapshot_required) {
        throw new NokvError('FAILED_PRECONDITION', `cursor ${after.term}/${after.index} is older than the rooted log the replicas keep (oldest ${page.oldest.term}/${page.oldest.index}); reload snapshot()`);
      }
      for (const e of page.entries) {
        if (o.signal?.aborted) return;
        yield { cursor: e.cursor, events: e.events };
        after = e.cursor;
      }
      if (page.entries.length === 0 && cursorAfter(page.cursor, after)) after = page.cursor;
    }
  }
}

/** Log indexes only grow; the term of a later entry is never lower. */
function cursorAfter(a: Cursor, b: Cursor): boolean {
  return a.index > b.index;
}
