// Owns copy-on-write editing of a RootState. A Draft starts as a shallow copy of a base state and copies each
// map the first time it is written, so applying a batch costs O(touched maps), the base state is never
// changed, and throwing away the draft is how a refused batch leaves no trace.
import { FailedPreconditionError } from '../../common/errors.js';
import type { MapName, RootState } from './types.js';

type MapValue<M extends MapName> = RootState[M][string];

export class Draft {
  readonly s: RootState;
  private readonly copied = new Set<MapName>();

  constructor(base: RootState) {
    this.s = { ...base };
  }

  get<M extends MapName>(map: M, id: string | number): MapValue<M> | undefined {
    const m = this.s[map] as Record<string, MapValue<M>>;
    const key = String(id);
    return Object.hasOwn(m, key) ? m[key] : undefined;
  }

  put<M extends MapName>(map: M, id: string | number, value: MapValue<M>): void {
    this.writable(map)[String(id)] = value;
  }

  del(map: MapName, id: string | number): void {
    delete this.writable(map)[String(id)];
  }

  /** Bumps cluster_epoch and returns the new value (the root_epoch of descriptors published now). */
  bumpClusterEpoch(): number {
    this.s.cluster_epoch += 1;
    return this.s.cluster_epoch;
  }

  private writable<M extends MapName>(map: M): Record<string, MapValue<M>> {
    if (!this.copied.has(map)) {
      (this.s as unknown as Record<string, unknown>)[map] = { ...this.s[map] };
      this.copied.add(map);
    }
    return this.s[map] as Record<string, MapValue<M>>;
  }
}

/** A refused transition: the event is well formed but does not apply to this state. */
export function refuse(message: string, details: Record<string, unknown> = {}): never {
  throw new FailedPreconditionError(message, details);
}
