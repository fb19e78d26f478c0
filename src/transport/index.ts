// Public entry of the transport layer: gRPC plumbing shared by every role (proto loading, servers, clients,
// error mapping, metadata) and the raft transport with its fault-injection layer.
export { PROTO_LOADER_OPTIONS, protoRoot, loadProto, packageDefinitionOf, u64ToNumber, numberToU64, type LoadedProto } from './grpc/proto.js';
export {
  ERROR_TRAILER_KEY,
  MAX_INTERNAL_MESSAGE_CHARS,
  UnauthenticatedError,
  grpcStatusOf,
  toGrpcError,
  fromGrpcError,
  isServiceError,
  type GrpcError,
} from './grpc/errors.js';
export { TRACE_KEY, AUTH_KEY, setTrace, getTrace, traceOf, setToken, requireToken, type TraceContext } from './grpc/metadata.js';
export { TRACEPARENT_KEY, incomingTrace, putTrace, traceInterceptor, tracedImplementation } from './grpc/trace.js';
export {
  MAX_MESSAGE_BYTES,
  KEEPALIVE_TIME_MS,
  KEEPALIVE_TIMEOUT_MS,
  INITIAL_RECONNECT_BACKOFF_MS,
  MAX_RECONNECT_BACKOFF_MS,
  SERVER_KEEPALIVE_TIME_MS,
  channelOptions,
  serverOptions,
} from './grpc/options.js';
export {
  DEFAULT_HOST,
  DEFAULT_SHUTDOWN_GRACE_MS,
  parseAddr,
  startGrpcServer,
  unaryHandler,
  type ServiceBinding,
  type GrpcServerConfig,
  type RunningGrpcServer,
  type HandlerOptions,
} from './grpc/server.js';
export { createClient, unaryCall, callStreamStats, type UnaryCallOptions, type ClientOptions } from './grpc/client.js';
export {
  CA_CERT_FILE,
  CLIENT_TLS_NAME,
  channelCredentials,
  currentTls,
  loadTlsMaterial,
  peerCertName,
  serverCredentials,
  useTls,
  type TlsMaterial,
} from './grpc/tls.js';
export {
  RaftTransport,
  type RaftTransportOptions,
  type RaftTransportStats,
  type InboundStats,
  type MessageHandler,
  type FrameHandler,
} from './raft/transport.js';
export { DEFAULT_RAFT_TRANSPORT_LIMITS, type RaftTransportLimits } from './raft/limits.js';
export type { PeerStats, LinkState } from './raft/peer.js';
export { encodeItems, decodeItems, splitFrames, decodeFrame, type RaftItem, type RaftFrame } from './raft/codec.js';
export { RAFT_TRANSPORT_PROTO, RAFT_TRANSPORT_SERVICE } from './raft/wire.js';
export {
  FaultInjector,
  parseFaultSpec,
  faultInjectorFromEnv,
  FAULTS_ENV,
  DEFAULT_MAX_REORDER_HOLD_MS,
  MAX_FAULT_DELAY_MS,
  type FaultSpec,
  type FaultRule,
  type LinkFaults,
  type LinkFaultStats,
  type NodeRef,
  type FaultInjectorOptions,
} from './faults.js';
