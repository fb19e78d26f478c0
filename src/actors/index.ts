// Public entry of the actor runtime. Everything another folder needs is exported here; the other files of
// src/actors/ are internal and may change shape.
export { ActorSystem, type ActorSystemOptions, type SpawnSpec, type ThreadInspection } from './system.js';
export { ActorRef, type AskOptions, type TellOptions } from './ref.js';
export type { ActorContext, Behaviour, BehaviourSource, BehaviourFactory, BehaviourClass, Replier } from './behaviour.js';
export type { TraceContext, ActorAddress } from './protocol.js';
export type { CellStats } from './cell.js';
export type { CodecName } from './codec.js';
export { actorTrace, ambientTrace, currentTrace, withTrace, traceLogger, type IncomingTrace } from './trace.js';
export { actorChildSpec, type ActorChildInstance, type ActorChildOptions } from './supervision.js';
export { CpuPool, type CpuPoolOptions } from './cpu-pool.js';
export * as limits from './limits.js';
