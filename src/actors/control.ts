// Owns the control plane between the owner thread and a worker: the comlink-exposed API (spawn, stop,
// inspect, link management) and the small adapter that lets comlink speak over a Node Worker / MessagePort.
// Control calls are rare and request/response shaped; actor traffic never goes through here.
import type { MessagePort, Worker } from 'node:worker_threads';
import type { Endpoint } from 'comlink';
import type { SerializedError } from '../common/errors.js';
import type { ExitReason } from '../supervisor/types.js';
import type { CellStats } from './cell.js';
import type { CodecName } from './codec.js';

export interface SpawnRequest {
  id: number;
  name: string;
  module: string;
  export: string;
  args: unknown;
  mailboxLimit: number;
}

/** Typed errors do not survive comlink's own error path, so control results carry serialised errors. */
export type ControlResult<T = true> = { ok: T } | { error: SerializedError };

export interface WorkerControl {
  ready(): true;
  spawn(req: SpawnRequest): Promise<ControlResult>;
  /** Stops the given actors one after another, in the order given; returns how each ended. */
  stopMany(ids: number[], reason: 'shutdown'): Promise<{ id: number; reason: ExitReason }[]>;
  inspect(): CellStats[];
  connect(thread: number, port: MessagePort): void;
  disconnect(thread: number): void;
  /**
   * A 'driven' worker clock only: moves it to atMs, firing the timers due by then; answers when its next timer
   * falls due (null: none), so the owner knows when to drive it again. Refused on a system clock.
   */
  advanceClock(atMs: number): ControlResult<number | null>;
}

/**
 * The time a worker thread's actors (sendSelfAfter, ask timeouts) run on. A Clock object cannot cross threads,
 * so the worker is told which one to build: 'system' (production) or 'driven' — virtual time from startMs
 * that moves only when the owner calls ActorSystem.advanceWorkerClocks, for a simulator that keeps worker
 * timers in step with its own clock.
 */
export type WorkerClockSpec = { kind: 'system' } | { kind: 'driven'; startMs: number };

/** What a worker is started with (workerData). */
export interface WorkerBoot {
  thread: number;
  role: string;
  node?: string;
  logLevel: string;
  /** true: log to the worker's process.stdout stream, which the owner forwards; false: sync fd 1. */
  forwardLogs: boolean;
  codec: CodecName;
  idPrefix: string;
  port: MessagePort;
  clock: WorkerClockSpec;
}

type NodeSide = Pick<Worker, 'postMessage' | 'on' | 'off'> | Pick<MessagePort, 'postMessage' | 'on' | 'off'>;

/** comlink expects DOM-style events ({ data }); Node emits the payload itself. */
export function nodeEndpoint(side: NodeSide): Endpoint {
  const wrapped = new WeakMap<object, (data: unknown) => void>();
  const ep = {
    postMessage: (message: unknown, transfer?: readonly unknown[]) => (side as MessagePort).postMessage(message, transfer as never),
    addEventListener: (_type: string, listener: unknown) => {
      const fn = (data: unknown) => {
        if (typeof listener === 'function') listener({ data });
        else (listener as { handleEvent(e: unknown): void }).handleEvent({ data });
      };
      wrapped.set(listener as object, fn);
      (side as MessagePort).on('message', fn);
    },
    removeEventListener: (_type: string, listener: unknown) => {
      const fn = wrapped.get(listener as object);
      if (fn) (side as MessagePort).off('message', fn);
      wrapped.delete(listener as object);
    },
  };
  return ep as unknown as Endpoint;
}
