// Owns the gRPC shape of the raft transport service (nokv.raft.v1.RaftTransport): the loaded definition and
// the hand-written types of its messages under the project's proto-loader options.
import type * as grpc from '@grpc/grpc-js';
import { loadProto, type LoadedProto } from '../grpc/proto.js';

export const RAFT_TRANSPORT_PROTO = 'nokv/raft/v1/transport.proto';
export const RAFT_TRANSPORT_SERVICE = 'nokv.raft.v1.RaftTransport';

/** RaftBatch as written by a sender (uint64 accepts a number) and as read by a receiver (a string). */
export interface RaftBatchIn {
  from_node: number | string;
  payload: Uint8Array;
}
export interface RaftBatchOut {
  from_node: string;
  payload: Buffer;
}
export interface RaftStreamSummary {
  batches_received: string | number;
}

let proto: LoadedProto | undefined;

export function raftTransportProto(): LoadedProto {
  proto ??= loadProto(RAFT_TRANSPORT_PROTO);
  return proto;
}

export function raftTransportServiceDefinition(): grpc.ServiceDefinition {
  return raftTransportProto().service(RAFT_TRANSPORT_SERVICE);
}

export function raftTransportClientConstructor(): grpc.ServiceClientConstructor {
  return raftTransportProto().clientConstructor(RAFT_TRANSPORT_SERVICE);
}
