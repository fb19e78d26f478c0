// Owns the shape of a client history for the register model and its recorder. Every operation is invoked
// and later completes in one of three ways: `ok` (it happened, with its output), `fail` (it certainly did
// not happen: the store refused it before any effect) or `info` (indeterminate: a timeout or UNAVAILABLE
// after the request may have been sent — it may or may not take effect, at any time after its invocation).
//
// Time is a logical counter shared by every client of one recorder: all clients run on one event loop, so
// the order in which invoke/complete calls reach the recorder is their real-time order.

/** A register value; null is "key absent" (the initial state of every key). */
export type RegisterValue = string | null;

export type OpKind = 'read' | 'write' | 'cas';
export type Outcome = 'ok' | 'fail' | 'info';

export interface Operation {
  id: number;
  process: number;
  key: string;
  f: OpKind;
  /** write: the value written. */
  value?: RegisterValue;
  /** cas: the value expected and the value put in its place. */
  from?: RegisterValue;
  to?: RegisterValue;
  /** ok read: the value seen. ok cas: whether it swapped. */
  read?: RegisterValue;
  swapped?: boolean;
  outcome: Outcome;
  invokeAt: number;
  /** Logical completion time; undefined while pending and for `info` (open until the end of the history). */
  completeAt?: number;
  /** Wall-clock ms of invocation and completion, for reports only. */
  invokeMs: number;
  completeMs?: number;
  /** Why it failed or is indeterminate (error message), for reports. */
  error?: string;
}

export type OpInput =
  | { f: 'read' }
  | { f: 'write'; value: RegisterValue }
  | { f: 'cas'; from: RegisterValue; to: RegisterValue };

/** The handle a client completes an invoked operation through (exactly once). */
export interface PendingOp {
  readonly op: Operation;
  ok(result?: { read?: RegisterValue; swapped?: boolean }): void;
  fail(error: string): void;
  info(error: string): void;
}

export class HistoryRecorder {
  private clock = 0;
  private readonly ops: Operation[] = [];

  invoke(process: number, key: string, input: OpInput): PendingOp {
    const op: Operation = { id: this.ops.length, process, key, ...input, outcome: 'info', invokeAt: ++this.clock, invokeMs: Date.now() };
    this.ops.push(op);
    let done = false;
    const finish = (outcome: Outcome, patch: Partial<Operation>) => {
      if (done) throw new Error(`operation ${op.id} completed twice`);
      done = true;
      Object.assign(op, patch, { outcome, completeMs: Date.now() });
      if (outcome !== 'info') op.completeAt = ++this.clock;
    };
    return {
      op,
      ok: (result = {}) => finish('ok', result),
      fail: (error) => finish('fail', { error }),
      info: (error) => finish('info', { error }),
    };
  }

  /** Every operation so far; ones still pending count as indeterminate. */
  history(): Operation[] {
    return this.ops.map((o) => ({ ...o }));
  }
}

export function describeOp(o: Operation): string {
  const what =
    o.f === 'read' ? `read -> ${JSON.stringify(o.read)}` : o.f === 'write' ? `write ${JSON.stringify(o.value)}` : `cas ${JSON.stringify(o.from)}->${JSON.stringify(o.to)}${o.outcome === 'ok' ? (o.swapped ? ' (swapped)' : ' (no match)') : ''}`;
  const span = `[${o.invokeAt}, ${o.completeAt ?? '∞'}]`;
  return `#${o.id} p${o.process} ${o.key} ${what} ${o.outcome}${o.error ? ` (${o.error})` : ''} ${span}`;
}
