// Owns who may call what: the one table of every gRPC method any NoKV process serves, keyed by its full
// path, with what the caller must present. Every server consults it through the guard (guard.ts) before a
// handler runs, a server refuses to start with a method that has no entry, and a test walks every service
// of every proto and fails on a missing one — so a new RPC cannot ship without a decision here.
//
//   open   anyone who can reach the port: reads of the public APIs (fsmeta reads, rooted state, routing);
//   token  the cluster token (`authorization: Bearer …`): every mutation, and every call into the store
//          tier, whose only clients are gateways and tools holding the token (a store read also carries a
//          timestamp that moves its one-phase-commit floor, so it is not harmless);
//   peer   the cluster token, and the transport then checks the sender is a configured peer (with TLS, that
//          the certificate names that node): raft traffic.
// One rule on top: a server that carries raft (any `peer` method) has no open method — there `open` means
// `token` (accessOn). Raft's receive limit fits snapshots (64 MiB), so an open method on such a port would be one
// an outsider could make it read a 60 MB body for; every other port refuses big bodies from their length prefix.
// docs/security.md lists the same table for readers.

export type Access = 'open' | 'token' | 'peer';

const table = (service: string, rules: Record<string, Access>): Array<[string, Access]> =>
  Object.entries(rules).map(([method, access]) => [`/${service}/${method}`, access]);

export const METHOD_ACCESS: ReadonlyMap<string, Access> = new Map([
  ...table('nokv.meta.v1.MetadataRoot', {
    Status: 'open', Snapshot: 'open', Tail: 'open', WaitTail: 'open',
    Append: 'token', FenceAllocator: 'token', ApplyTenure: 'token', ApplyHandover: 'token',
  }),
  ...table('nokv.coordinator.v1.Coordinator', {
    GetRegionByKey: 'open', GetStore: 'open', ListStores: 'open', GetMount: 'open', ListMounts: 'open',
    GetQuotaFence: 'open', ListQuotaFences: 'open', GetSubtreeAuthority: 'open', ListSubtreeAuthorities: 'open', GetLease: 'open',
    // Tso and AllocID advance fences in rooted state: a flood would burn windows for everyone.
    Tso: 'token', AllocID: 'token', StoreHeartbeat: 'token', RegisterMount: 'token', RetireMount: 'token',
    SetQuotaFence: 'token', PublishRootEvent: 'token', Handover: 'token', TakeOver: 'token', CallStream: 'token',
  }),
  ...table('nokv.kv.v1.StoreKV', {
    Get: 'token', BatchGet: 'token', Scan: 'token', ScanRefs: 'token', ListRegions: 'token', WatchApplied: 'token',
    Prewrite: 'token', Commit: 'token', BatchRollback: 'token', ResolveLock: 'token', CheckTxnStatus: 'token',
    TxnHeartBeat: 'token', OnePhaseCommit: 'token', SplitRegion: 'token', CallStream: 'token',
  }),
  ...table('nokv.fsmeta.v1.FSMetadata', {
    Lookup: 'open', GetAttr: 'open', ReadDir: 'open', ReadDirPlus: 'open', WatchSubtree: 'open', GetQuotaUsage: 'open',
    Create: 'token', UpdateInode: 'token', Rename: 'token', RenameSubtree: 'token', Link: 'token', Unlink: 'token',
    RemoveDirectory: 'token', SnapshotSubtree: 'token', RetireSnapshotSubtree: 'token', OpenWriteSession: 'token',
    HeartbeatWriteSession: 'token', CloseWriteSession: 'token', ExpireWriteSessions: 'token',
  }),
  ...table('nokv.raft.v1.RaftTransport', { Send: 'peer', Ping: 'peer' }),
  ...table('grpc.health.v1.Health', { Check: 'open', List: 'open', Watch: 'open' }),
  ...table('grpc.reflection.v1.ServerReflection', { ServerReflectionInfo: 'open' }),
  ...table('grpc.reflection.v1alpha.ServerReflection', { ServerReflectionInfo: 'open' }),
]);

/** What a caller of `path` (`/package.Service/Method`) must present; undefined for a method with no entry. */
export function accessOf(path: string): Access | undefined {
  return METHOD_ACCESS.get(path);
}

/** The access of `path` on a server that does (or does not) carry raft: there nothing is open. */
export function accessOn(path: string, carriesRaft: boolean): Access | undefined {
  const access = accessOf(path);
  return carriesRaft && access === 'open' ? 'token' : access;
}

/** Whether a call to `path` must carry the cluster token (when the server has one). */
export function needsToken(access: Access): boolean {
  return access !== 'open';
}
