// Owns the outbound side of one destination: its bounded queue, its own gRPC channel and stream, and the
// reconnect loop. Each destination is independent — a dial that hangs or fails only affects its own queue,
// never the sends to other peers (upstream's transport blocked every peer on one dead peer's dial).
//
// States: idle (no stream, nothing to send) → connecting (dialing, waiting for the channel to be READY)
// → ready (stream open, flushes write batches) → on failure backoff (timer) → connecting again if anything
// is queued, else idle. closed is final. Every dial builds a fresh channel with a local subchannel pool, so
// our backoff (not gRPC's internal one) decides when to redial, and two transports in one process never
// share a connection.
import * as grpc from '@grpc/grpc-js';
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Logger } from '../../common/log.js';
import type { Prng } from '../../common/prng.js';
import { setToken } from '../grpc/metadata.js';
import { channelOptions } from '../grpc/options.js';
import { channelCredentials, type TlsMaterial } from '../grpc/tls.js';
import { backoffDelayMs } from './backoff.js';
import { encodeBatches, type RaftItem } from './codec.js';
import type { RaftTransportLimits } from './limits.js';
import { DropOldestQueue } from './queue.js';
import { raftTransportClientConstructor, raftTransportServiceDefinition, type RaftBatchIn, type RaftStreamSummary } from './wire.js';

export type LinkState = 'idle' | 'connecting' | 'ready' | 'backoff' | 'closed';

export interface PeerStats {
  addr: string;
  state: LinkState;
  /** Items waiting in the queue now. */
  queued: number;
  /** Items handed to the stream. */
  sent: number;
  /** Items discarded: queue overflow, oversize, or the queue dropped on close/removal. */
  dropped: number;
  batches: number;
  bytes: number;
  connectAttempts: number;
  connectFailures: number;
  streamFailures: number;
  /** Streams opened again after a previous one broke. */
  reconnects: number;
  lastError?: string;
}

export interface LinkContext {
  nodeId: number;
  clock: Clock;
  prng: Prng;
  logger: Logger;
  limits: RaftTransportLimits;
  /** Cluster token sent with every stream. */
  token?: string;
  /** TLS identity the streams present (undefined: plaintext). */
  tls?: TlsMaterial;
  /** Told when messages to the peer may have been lost (link failure, queue overflow); see RaftTransportOptions. */
  onUnreachable?: (peerId: number) => void;
}

export class PeerLink {
  private state: LinkState = 'idle';
  private client?: grpc.Client;
  private call?: grpc.ClientWritableStream<RaftBatchIn>;
  private attempt = 0;
  private timer?: TimerHandle;
  private waitingForDrain = false;
  private openedAt = 0;
  private everConnected = false;
  /** Bumped on every teardown; callbacks from an older connection see a stale value and do nothing. */
  private generation = 0;
  private readonly queue: DropOldestQueue<RaftItem>;
  private readonly counters = {
    sent: 0, dropped: 0, batches: 0, bytes: 0, connectAttempts: 0, connectFailures: 0, streamFailures: 0, reconnects: 0,
  };
  private lastError?: string;
  /** Set once the host has been told about lost messages; cleared by the next write that goes through. */
  private unreachableReported = false;

  constructor(readonly peerId: number, private addr: string, private readonly ctx: LinkContext) {
    this.queue = new DropOldestQueue(ctx.limits.maxQueueItems);
  }

  get address(): string {
    return this.addr;
  }

  get linkState(): LinkState {
    return this.state;
  }

  /** Queues an item; starts a dial if there is no stream and none is pending. Never blocks. */
  enqueue(item: RaftItem): void {
    if (this.state === 'closed') return;
    const dropped = this.queue.push(item);
    if (dropped > 0) {
      this.counters.dropped += dropped;
      this.reportUnreachable();
    }
    if (this.state === 'idle') this.connect();
  }

  /** Writes everything queued as batches of at most maxBatchItems, until the stream pushes back. */
  flush(): void {
    if (this.state !== 'ready' || this.waitingForDrain || !this.call) return;
    const { maxBatchItems, maxBatchBytes, maxItemBytes } = this.ctx.limits;
    const call = this.call;
    while (this.queue.length > 0) {
      const items = this.queue.take(maxBatchItems);
      let writable = true;
      let oversize = 0;
      for (const payload of encodeBatches(items, maxBatchBytes)) {
        if (payload.length > maxItemBytes) {
          oversize++;
          this.counters.dropped++;
          this.ctx.logger.warn({ peer: this.peerId, bytes: payload.length }, 'raft item larger than maxItemBytes dropped');
          continue;
        }
        writable = call.write({ from_node: this.ctx.nodeId, payload });
        this.counters.batches++;
        this.counters.bytes += payload.length;
      }
      this.counters.sent += items.length - oversize;
      if (writable) this.unreachableReported = false;
      if (!writable) {
        // The stream's buffer is full: leave the rest in our bounded queue (where overflow drops the
        // oldest) instead of growing gRPC's unbounded buffer.
        this.waitingForDrain = true;
        const gen = this.generation;
        call.once('drain', () => {
          if (gen !== this.generation) return;
          this.waitingForDrain = false;
          this.flush();
        });
        return;
      }
    }
  }

  /** Points the link at a new address: the current stream is torn down and the queue kept. */
  setAddr(addr: string): void {
    if (addr === this.addr || this.state === 'closed') return;
    this.addr = addr;
    this.teardown();
    this.attempt = 0;
    this.state = 'idle';
    if (this.queue.length > 0) this.connect();
  }

  stats(): PeerStats {
    return { addr: this.addr, state: this.state, queued: this.queue.length, ...this.counters, ...(this.lastError ? { lastError: this.lastError } : {}) };
  }

  /** Ends the stream (cancelling it after closeGraceMs), closes the channel, drops the queue. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.counters.dropped += this.queue.clear();
    const call = this.call;
    const client = this.client;
    this.teardownHandles();
    if (call) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.ctx.limits.closeGraceMs);
        call.once('status', () => {
          clearTimeout(t);
          resolve();
        });
        call.end();
      });
      call.cancel();
    }
    client?.close();
  }

  private connect(): void {
    this.state = 'connecting';
    this.counters.connectAttempts++;
    const gen = this.generation;
    const ctor = raftTransportClientConstructor();
    let client: grpc.Client;
    try {
      client = new ctor(this.addr, channelCredentials(this.ctx.tls), channelOptions({ 'grpc.use_local_subchannel_pool': 1 }));
    } catch (err) {
      // An unparseable address is a configuration error; keep retrying so a later setAddr can fix it.
      return this.fail(err as Error, 'connect');
    }
    this.client = client;
    const deadline = Date.now() + this.ctx.limits.connectTimeoutMs;
    const channel = client.getChannel();
    const check = (): void => {
      if (gen !== this.generation) return;
      const s = channel.getConnectivityState(true);
      if (s === grpc.connectivityState.READY) return this.openStream(gen);
      if (s === grpc.connectivityState.TRANSIENT_FAILURE || s === grpc.connectivityState.SHUTDOWN) {
        return this.fail(new Error(`cannot connect to ${this.addr}`), 'connect');
      }
      channel.watchConnectivityState(s, deadline, (err?: Error) => {
        if (gen !== this.generation) return;
        if (err) this.fail(new Error(`connect to ${this.addr} timed out`), 'connect');
        else check();
      });
    };
    check();
  }

  private openStream(gen: number): void {
    const client = this.client;
    if (!client) return;
    const def = raftTransportServiceDefinition().Send;
    const call = client.makeClientStreamRequest<RaftBatchIn, RaftStreamSummary>(
      def.path,
      def.requestSerialize as (v: RaftBatchIn) => Buffer,
      def.responseDeserialize as (b: Buffer) => RaftStreamSummary,
      this.ctx.token ? setToken(new grpc.Metadata(), this.ctx.token) : new grpc.Metadata(),
      {},
      (err) => {
        if (gen !== this.generation) return;
        this.fail(err ?? new Error('peer ended the stream'), 'stream');
      },
    );
    // Failures arrive through the callback above; a listener keeps an 'error' event from being unhandled.
    call.on('error', () => {});
    this.call = call;
    this.state = 'ready';
    this.openedAt = this.ctx.clock.now();
    if (this.everConnected) this.counters.reconnects++;
    this.everConnected = true;
    this.ctx.logger.debug({ peer: this.peerId, addr: this.addr }, 'raft stream open');
    this.flush();
  }

  private fail(err: Error, phase: 'connect' | 'stream'): void {
    if (this.state === 'closed') return;
    const lived = this.state === 'ready' ? this.ctx.clock.now() - this.openedAt : 0;
    if (phase === 'connect') this.counters.connectFailures++;
    else this.counters.streamFailures++;
    this.lastError = err.message;
    this.teardown();
    this.reportUnreachable();
    if (lived >= this.ctx.limits.stableStreamMs) this.attempt = 0;
    const { backoffInitialMs: initialMs, backoffMaxMs: maxMs, backoffMultiplier: multiplier } = this.ctx.limits;
    const delay = backoffDelayMs(this.attempt++, { initialMs, maxMs, multiplier }, this.ctx.prng);
    this.ctx.logger.debug({ peer: this.peerId, addr: this.addr, phase, delay, err: err.message }, 'raft link down');
    this.state = 'backoff';
    this.timer = this.ctx.clock.setTimer(delay, () => {
      this.timer = undefined;
      if (this.state !== 'backoff') return;
      if (this.queue.length > 0) this.connect();
      else this.state = 'idle';
    });
  }

  private reportUnreachable(): void {
    if (this.unreachableReported || !this.ctx.onUnreachable) return;
    this.unreachableReported = true;
    try {
      this.ctx.onUnreachable(this.peerId);
    } catch (err) {
      this.ctx.logger.error({ err, peer: this.peerId }, 'onUnreachable handler threw');
    }
  }

  /** Drops the current stream and channel; later callbacks from them are ignored. */
  private teardown(): void {
    const call = this.call;
    const client = this.client;
    this.teardownHandles();
    call?.cancel();
    client?.close();
  }

  private teardownHandles(): void {
    this.generation++;
    this.call = undefined;
    this.client = undefined;
    this.waitingForDrain = false;
    this.timer?.cancel();
    this.timer = undefined;
  }
}
