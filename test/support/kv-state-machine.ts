// A tiny replicated key-value state machine for raft host tests: commands are msgpack {key, value}; apply
// returns the index it was applied at; snapshots carry the whole map.
import { pack, unpack } from 'msgpackr';
import type { AppliedEntry, StateMachine } from '../../src/raft/host/replicated.js';

export class KvStateMachine implements StateMachine<number> {
  readonly data = new Map<string, string>();
  /** Every applied (index, key) in order: replicas must agree on it. */
  readonly history: Array<[number, string]> = [];

  static encode(key: string, value: string): Uint8Array {
    return new Uint8Array(pack({ key, value }));
  }

  apply(e: AppliedEntry): number {
    const { key, value } = unpack(e.data) as { key: string; value: string };
    this.data.set(key, value);
    this.history.push([e.index, key]);
    return e.index;
  }

  snapshot(): Uint8Array {
    return new Uint8Array(pack([...this.data.entries()]));
  }

  restore(data: Uint8Array): void {
    this.data.clear();
    for (const [k, v] of unpack(data) as Array<[string, string]>) this.data.set(k, v);
  }
}
