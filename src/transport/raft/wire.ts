// Owns the gRPC shape of the raft transport service (nokv.raft.v1.RaftTransport): the loaded definition and
// the generated types of its messages (src/generated/proto, under the project's proto-loader options).
import type * as grpc from '@grpc/grpc-js';
import { loadProto, type LoadedProto } from '../grpc/proto.js';
import type { RaftBatch, RaftBatch__Output } from '../../generated/proto/nokv/raft/v1/RaftBatch.js';
import type { RaftStreamSummary as RaftStreamSummaryMsg } from '../../generated/proto/nokv/raft/v1/RaftStreamSummary.js';

export const RAFT_TRANSPORT_PROTO = 'nokv/raft/v1/transport.proto';
export const RAFT_TRANSPORT_SERVICE = 'nokv.raft.v1.RaftTransport';

/** RaftBatch as written by a sender (uint64 accepts a number) and as read by a receiver (a string). */
export type RaftBatchIn = RaftBatch;
export type RaftBatchOut = RaftBatch__Output;
export type RaftStreamSummary = RaftStreamSummaryMsg;

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
