// Owns what a region actor needs from the thread that hosts it: the LMDB environment and its families, the
// raft log store, the way out to the transport, the inbound drop counter, and where it publishes its view.
// StoreNode implements it for the regions it places; keeping it an interface keeps the actor free of the
// node's router, gRPC and supervision.
import type { Clock } from '../../common/clock.js';
import type { DropLog } from '../../common/drop-log.js';
import type { Logger } from '../../common/log.js';
import type { Prng } from '../../common/prng.js';
import type { Message } from '../../raft/index.js';
import type { RaftLogStore, Storage } from '../../storage/index.js';
import type { LmdbMvccBackend } from '../mvcc/lmdb.js';
import type { RegionDescriptor } from '../region/descriptor.js';
import type { ApplyCounters, ApplyEvent, RegionRecord } from '../region/state-machine.js';
import type { ActorRef } from '../../actors/index.js';
import type { RegionMsg, RegionView } from './region-actor.js';

export interface RegionTiming {
  electionTicks: number;
  heartbeatTicks: number;
  snapshotEveryEntries?: number;
  compactionSlackEntries?: number;
  /** Deadline of a proposal or read barrier inside the store. */
  proposeTimeoutMs: number;
}

/** What a host's timer calls on each region it hosts (RegionActor.tick). */
export interface Tickable {
  tick(): void;
}

export interface RegionHost {
  readonly storeId: number;
  readonly storage: Storage;
  readonly raftStore: RaftLogStore;
  readonly backend: LmdbMvccBackend;
  readonly counters: ApplyCounters;
  readonly clock: Clock;
  readonly prng: Prng;
  readonly logger: Logger;
  readonly timing: RegionTiming;
  /** Inbound raft messages dropped before a core saw them (by reason and sender; /debug/vars). */
  readonly drops: DropLog;
  isConfiguredPeer(nodeId: number): boolean;
  /** The region's record (descriptor and applied index): the one handed over in this process, else on disk. */
  loadRecord(regionId: number): RegionRecord | undefined;
  /** What a stopping incarnation applied, for the next one (its record write may still be in flight). */
  handOver(regionId: number, record: RegionRecord): void;
  send(regionId: number, msgs: Message[]): void;
  publish(regionId: number, view: RegionView): void;
  /** Every region descriptor of this store (EpochNotMatch answers carry them). */
  descriptors(): RegionDescriptor[];
  addrOf(storeId: number): string;
  emitApplied(ev: ApplyEvent): void;
  /** A split applied on this replica: place the child region (its data is already in the shared families). */
  openSplitChild(child: RegionDescriptor, gcSafePoint: bigint): void;
  /** A failure every region of the store shares (storage): the data plane restarts. */
  failStore(err: unknown): void;
  /** A region actor started on this host: the host's timer calls `actor.tick()` from now on / it stopped. */
  attach?(regionId: number, ref: ActorRef<RegionMsg>, actor: Tickable): void;
  detach?(regionId: number, ref: ActorRef<RegionMsg>): void;
  /** The cluster TSO, asked once per term a region leads (see ts-guard.ts). */
  leaderFloorTso?: () => Promise<bigint>;
}
