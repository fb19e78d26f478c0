// Owns the raft transport of one process: a PeerLink (queue + stream) per destination node shared by every
// raft group, batching per destination per flush, the receiving side of the stream, optional fault
// injection, and stats for /debug/vars.
//
// Batching: send() only queues. Everything queued before the next flush goes to a destination as one batch
// (split only above maxBatchItems / maxBatchBytes). By default a flush runs once per event-loop turn
// (setImmediate); a host that wants exactly one batch per raft tick passes autoFlush: false and calls
// flush() at the end of each tick. Merging many groups' heartbeats into one item is the host's choice.
//
// Serving: start() binds a standalone server on listenAddr; a process that already serves gRPC on its
// port (a store: KV + raft on one port) leaves listenAddr unset and adds serviceBinding() to its server.
import * as grpc from '@grpc/grpc-js';
import type { Clock } from '../../common/clock.js';
import { DropLog, type DropStats } from '../../common/drop-log.js';
import { InvalidArgumentError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { Prng } from '../../common/prng.js';
import type { FaultInjector, LinkFaultStats } from '../faults.js';
import { startGrpcServer, type RunningGrpcServer, type ServiceBinding } from '../grpc/server.js';
import { currentTls, peerCertName, type TlsMaterial } from '../grpc/tls.js';
import { decodeFrame, encodeItems, splitFrames, type RaftFrame, type RaftItem } from './codec.js';
import { resolveLimits, type RaftTransportLimits } from './limits.js';
import { PeerLink, type PeerStats } from './peer.js';
import { raftTransportServiceDefinition, type RaftBatchOut, type RaftStreamSummary } from './wire.js';

export type MessageHandler = (fromNode: number, items: RaftItem[]) => void;
/** Receives a batch's group frames still encoded (codec.ts): the host decodes each where its group lives. */
export type FrameHandler = (fromNode: number, frames: RaftFrame[]) => void;

export interface RaftTransportOptions {
  nodeId: number;
  /** `host:port` for a standalone server started by start(); leave unset to serve via serviceBinding(). */
  listenAddr?: string;
  /** Destination node id → `host:port`. */
  peers?: Map<number, string>;
  /**
   * Called with every received batch, decoded here (after inbound faults); a frame that does not decode is
   * dropped and counted, the rest of the batch is delivered. Must not throw; a throw is logged. Exactly one of
   * onMessages and onFrames is given.
   */
  onMessages?: MessageHandler;
  /**
   * Called with every received batch split per group but not decoded (after inbound faults, applied per
   * frame): a host whose groups live on other threads forwards the bytes and decodes them there.
   */
  onFrames?: FrameHandler;
  clock: Clock;
  /** Jitter for reconnect backoff. */
  prng: Prng;
  logger: Logger;
  limits?: Partial<RaftTransportLimits>;
  /** Flush once per event-loop turn automatically (default true). */
  autoFlush?: boolean;
  /**
   * Told (at most once until a later write to that peer succeeds) that messages to a peer may have been lost:
   * its stream or dial failed, or its queue overflowed. A raft host calls reportUnreachable(peer) on its
   * groups so leaders stop pipelining to it and probe instead.
   */
  onPeerUnreachable?: (nodeId: number) => void;
  /** Cluster token: presented on every outbound stream, required of inbound ones (their access rule is `peer`). */
  token?: string;
  /** TLS identity of this node for its streams and standalone server; default the process's (tls.ts). */
  tls?: TlsMaterial;
  /**
   * The certificate name node `id` must present when it connects over TLS (`store-2`, `meta-root-1`): with it,
   * a peer can only speak as itself. Without it (or without TLS) the sender is checked against the peer list only.
   */
  peerName?: (nodeId: number) => string;
  /** Fault layer (chaos tests, NOKV_FAULTS). Applied on `faultSide` only, so a shared injector acts once. */
  faults?: FaultInjector;
  /** 'send': before queueing (link self→dest). 'receive': before onMessages (link src→self). Default 'send'. */
  faultSide?: 'send' | 'receive';
}

export interface InboundStats {
  batches: number;
  /** Group frames received (one per group per batch). */
  frames: number;
  /** Messages decoded here (onMessages hosts; an onFrames host decodes them itself). */
  items: number;
  /** Batches whose framing was broken, and (onMessages) frames that did not decode. */
  decodeErrors: number;
}

export interface RaftTransportStats {
  nodeId: number;
  /** Outbound, per destination node id. */
  peers: Record<string, PeerStats>;
  /** Inbound, per source node id. */
  inbound: Record<string, InboundStats>;
  /** Items addressed to a node that is not in the peer map. */
  unknownPeerDrops: number;
  openInboundStreams: number;
  /** Inbound batches refused (undecodable, from a node that is not a peer, a stream changing its sender). */
  inboundDrops: DropStats;
  faults?: Record<string, LinkFaultStats>;
}

interface InboundStream {
  call: grpc.ServerReadableStream<RaftBatchOut, RaftStreamSummary>;
  finish: (err: grpc.ServiceError | null, res?: RaftStreamSummary) => void;
}

export class RaftTransport {
  readonly nodeId: number;
  private readonly opts: RaftTransportOptions;
  private readonly limits: RaftTransportLimits;
  private readonly links = new Map<number, PeerLink>();
  private readonly inbound = new Map<number, InboundStats>();
  private readonly streams = new Set<InboundStream>();
  private readonly local: RaftItem[] = [];
  private unknownPeerDrops = 0;
  private readonly inboundDrops: DropLog;
  private flushScheduled = false;
  private closed = false;
  private server?: RunningGrpcServer;
  private readonly tls: TlsMaterial | undefined;

  constructor(opts: RaftTransportOptions) {
    if (!Number.isSafeInteger(opts.nodeId) || opts.nodeId <= 0) throw new InvalidArgumentError(`nodeId must be a positive integer, got ${opts.nodeId}`);
    if (!opts.onMessages === !opts.onFrames) throw new InvalidArgumentError('exactly one of onMessages and onFrames must be given');
    this.nodeId = opts.nodeId;
    this.opts = opts;
    this.limits = resolveLimits(opts.limits);
    this.inboundDrops = new DropLog(opts.clock, opts.logger, 'raft batch');
    this.tls = opts.tls ?? currentTls();
    for (const [id, addr] of opts.peers ?? []) this.addPeer(id, addr);
  }

  /** Starts the standalone server when listenAddr is set; a no-op otherwise. */
  async start(): Promise<void> {
    if (this.closed) throw new InvalidArgumentError('transport is closed');
    if (this.opts.listenAddr === undefined || this.server) return;
    this.server = await startGrpcServer({
      addr: this.opts.listenAddr,
      services: [this.serviceBinding()],
      reflection: false,
      ...(this.opts.token ? { token: this.opts.token } : {}),
      ...(this.tls ? { tls: this.tls } : {}),
    });
    this.opts.logger.info({ addr: this.server.addr }, 'raft transport listening');
  }

  /** Port of the standalone server (after start()). */
  get port(): number | undefined {
    return this.server?.port;
  }

  /** The service and handlers to add to a server this process already runs. */
  serviceBinding(): ServiceBinding {
    return {
      service: raftTransportServiceDefinition(),
      impl: {
        Send: (call: InboundStream['call'], callback: InboundStream['finish']) => this.acceptStream(call, callback),
        Ping: (_call: unknown, callback: (err: null, res: object) => void) => callback(null, {}),
      },
    };
  }

  /** Adds the transport's service to an existing (not yet started) grpc.Server. */
  registerOn(server: Pick<grpc.Server, 'addService'>): void {
    const { service, impl } = this.serviceBinding();
    server.addService(service, impl);
  }

  addPeer(nodeId: number, addr: string): void {
    if (nodeId === this.nodeId) return;
    const existing = this.links.get(nodeId);
    if (existing) return existing.setAddr(addr);
    this.links.set(nodeId, new PeerLink(nodeId, addr, {
      nodeId: this.nodeId,
      clock: this.opts.clock,
      prng: this.opts.prng,
      logger: this.opts.logger,
      limits: this.limits,
      ...(this.opts.token ? { token: this.opts.token } : {}),
      ...(this.tls ? { tls: this.tls } : {}),
      onUnreachable: this.opts.onPeerUnreachable,
    }));
  }

  updatePeerAddr(nodeId: number, addr: string): void {
    const link = this.links.get(nodeId);
    if (!link) throw new InvalidArgumentError(`node ${nodeId} is not a peer`);
    link.setAddr(addr);
  }

  /** Forgets a peer: its stream closes and whatever was queued for it is dropped. */
  async removePeer(nodeId: number): Promise<void> {
    const link = this.links.get(nodeId);
    if (!link) return;
    this.links.delete(nodeId);
    await link.close();
  }

  peerIds(): number[] {
    return [...this.links.keys()];
  }

  /**
   * Queues one raft message of `group` for node `to`. Never blocks and never throws for a down peer.
   * Returns false when the destination is unknown (the item is counted and dropped).
   */
  send(to: number, group: number, msg: unknown): boolean {
    if (this.closed) return false;
    if (to !== this.nodeId && !this.links.has(to)) {
      this.unknownPeerDrops++;
      return false;
    }
    const item: RaftItem = { group, msg };
    const faults = this.opts.faults;
    if (faults && (this.opts.faultSide ?? 'send') === 'send') faults.route(this.nodeId, to, item, (it) => this.enqueue(to, it));
    else this.enqueue(to, item);
    return true;
  }

  /** Sends everything queued now: one batch per destination (more only above the batch limits). */
  flush(): void {
    if (this.closed) return;
    for (const link of this.links.values()) link.flush();
    if (this.local.length > 0) this.deliver(this.nodeId, this.local.splice(0));
  }

  stats(): RaftTransportStats {
    const peers: Record<string, PeerStats> = {};
    for (const [id, link] of this.links) peers[id] = link.stats();
    const inbound: Record<string, InboundStats> = {};
    for (const [id, s] of this.inbound) inbound[id] = { ...s };
    const out: RaftTransportStats = {
      nodeId: this.nodeId,
      peers,
      inbound,
      unknownPeerDrops: this.unknownPeerDrops,
      openInboundStreams: this.streams.size,
      inboundDrops: this.inboundDrops.stats(),
    };
    if (this.opts.faults) out.faults = this.opts.faults.stats();
    return out;
  }

  /** Closes outbound streams, ends inbound ones with UNAVAILABLE, and stops the standalone server. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const ending = [...this.links.values()].map((l) => l.close());
    for (const s of this.streams) s.finish(unavailable('raft transport closed'));
    this.streams.clear();
    await Promise.all(ending);
    await this.server?.close(this.limits.closeGraceMs);
    this.server = undefined;
  }

  private enqueue(to: number, item: RaftItem): void {
    if (this.closed) return;
    if (to === this.nodeId) this.local.push(item);
    else {
      const link = this.links.get(to);
      if (!link) {
        this.unknownPeerDrops++;
        return;
      }
      link.enqueue(item);
    }
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.opts.autoFlush === false || this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /**
   * One inbound stream carries one sender: the first batch names it, and it must be a configured peer (a
   * process outside the peer list has no business in any group here) whose certificate, over TLS, names it. A batch naming another sender ends
   * the stream with PERMISSION_DENIED; nothing from it reaches the groups.
   */
  private acceptStream(call: InboundStream['call'], callback: InboundStream['finish']): void {
    if (this.closed) return callback(unavailable('raft transport closed'));
    let done = false;
    let batches = 0;
    let sender: number | undefined;
    const peer = call.getPeer();
    const certName = peerCertName(call);
    const stream: InboundStream = {
      call,
      finish: (err, res) => {
        if (done) return;
        done = true;
        this.streams.delete(stream);
        callback(err, res);
      },
    };
    this.streams.add(stream);
    call.on('data', (batch: RaftBatchOut) => {
      if (done) return;
      const from = Number(batch.from_node);
      const refusal = sender === undefined ? this.refuseSender(from, certName) : from === sender ? undefined : 'sender-changed';
      if (refusal) {
        this.inboundDrops.drop(peer, refusal, { from: batch.from_node });
        return stream.finish(statusError(grpc.status.PERMISSION_DENIED, `raft batch from node ${batch.from_node} refused: ${refusal}`));
      }
      sender = from;
      batches++;
      this.receive(from, batch.payload);
    });
    call.on('end', () => stream.finish(null, { batches_received: batches }));
    call.on('error', () => stream.finish(unavailable('stream failed')));
    call.on('cancelled', () => stream.finish(unavailable('stream cancelled')));
  }

  /** Why a stream claiming to come from node `from` (over TLS: with certificate `certName`) is refused, if it is. */
  private refuseSender(from: number, certName: string | undefined): string | undefined {
    if (!Number.isSafeInteger(from) || from <= 0 || from === this.nodeId || !this.links.has(from)) return 'unknown-sender';
    if (certName !== undefined && this.opts.peerName && certName !== this.opts.peerName(from)) return 'certificate-mismatch';
    return undefined;
  }

  private receive(from: number, payload: Buffer): void {
    if (this.closed) return;
    let stats = this.inbound.get(from);
    if (!stats) {
      stats = { batches: 0, frames: 0, items: 0, decodeErrors: 0 };
      this.inbound.set(from, stats);
    }
    let frames: RaftFrame[];
    try {
      frames = splitFrames(payload);
    } catch (err) {
      stats.decodeErrors++;
      this.inboundDrops.drop(from, 'undecodable', { err: (err as Error).message });
      return;
    }
    stats.batches++;
    stats.frames += frames.length;
    const faults = this.opts.faults;
    if (!faults || (this.opts.faultSide ?? 'send') !== 'receive') return this.deliverFrames(from, frames, stats);

    // Frames that pass at once are delivered together; delayed or held ones arrive later on their own.
    let collecting = true;
    const now: RaftFrame[] = [];
    for (const frame of frames) {
      faults.route(from, this.nodeId, frame, (f) => {
        if (collecting) now.push(f);
        else this.deliverFrames(from, [f], stats);
      });
    }
    collecting = false;
    if (now.length > 0) this.deliverFrames(from, now, stats);
  }

  /** Hands frames to onFrames, or decodes them for onMessages (a frame that does not decode is dropped alone). */
  private deliverFrames(from: number, frames: RaftFrame[], stats: InboundStats): void {
    if (this.closed) return;
    if (this.opts.onFrames) return this.call(() => this.opts.onFrames!(from, frames), from);
    const items: RaftItem[] = [];
    for (const f of frames) {
      let msgs: unknown[];
      try {
        msgs = decodeFrame(f.bytes);
      } catch (err) {
        stats.decodeErrors++;
        this.inboundDrops.drop(from, 'undecodable', { group: f.group, err: (err as Error).message });
        continue;
      }
      for (const msg of msgs) items.push({ group: f.group, msg });
    }
    stats.items += items.length;
    if (items.length > 0) this.deliver(from, items);
  }

  /** Local delivery (a message a node sends itself) in the shape the host takes. */
  private deliver(from: number, items: RaftItem[]): void {
    if (this.closed) return;
    if (this.opts.onFrames) {
      const frames = splitFrames(encodeItems(items));
      return this.call(() => this.opts.onFrames!(from, frames), from);
    }
    this.call(() => this.opts.onMessages!(from, items), from);
  }

  private call(handler: () => void, from: number): void {
    try {
      handler();
    } catch (err) {
      this.opts.logger.error({ err, from }, 'raft message handler threw');
    }
  }
}

function unavailable(details: string): grpc.ServiceError {
  return statusError(grpc.status.UNAVAILABLE, details);
}

function statusError(code: grpc.status, details: string): grpc.ServiceError {
  const e = new Error(details) as grpc.ServiceError;
  e.code = code;
  e.details = details;
  e.metadata = new grpc.Metadata();
  return e;
}
