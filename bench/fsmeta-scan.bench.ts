// CPU cost of the store's side of a directory page: a ScanRefs read of N dentries with their inodes over the MVCC
// families on LMDB (the region's read, src/store/server/reads.ts) and the proto-loader encoding of its reply, as
// the region leader runs them for a ReadDirPlus. The directory is written as the gateway writes it (a dentry and
// an inode per entry, one-phase commits of batches), then every inode is rewritten VERSIONS - 1 more times so the
// write family holds several versions per key, as a directory whose files are updated does; every write is made
// durable first, so the read goes to LMDB. Prints CPU µs per page (process.cpuUsage: other processes' load does
// not count).
//   node dist/bench/fsmeta-scan.bench.js [ENTRIES=512] [VERSIONS=3]
import { openStorage } from '../src/storage/index.js';
import { LmdbMvccBackend } from '../src/store/mvcc/lmdb.js';
import { FamilyMvccStore } from '../src/store/mvcc/families.js';
import { runRead, type ReadOp } from '../src/store/server/reads.js';
import { STORE_KV_PROTO, STORE_KV_SERVICE } from '../src/store/server/service.js';
import { loadProto } from '../src/transport/index.js';
import { silentLogger } from '../src/common/log.js';
import * as K from '../src/gateway/keys.js';
import { bootstrapRegions } from '../src/store/region/descriptor.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const N = Number(process.argv[2] ?? 512);
const VERSIONS = Number(process.argv[3] ?? 3);
const MOUNT = 'default';
const DIR = 1_000;
const now = 1_733_000_000_000_000_000n;

const dir = mkdtempSync(join(tmpdir(), 'nokv-scan-bench-'));
const storage = openStorage({ path: dir });
try {
  const backend = new LmdbMvccBackend(storage, silentLogger(), (err) => {
    throw err;
  });
  const m = new FamilyMvccStore(backend.families);
  let ts = 1_000n;
  const commit = (key: Buffer, value: Buffer) => {
    const start = ts++;
    const c = ts++;
    m.putData(key, start, value);
    m.putWrite(key, c, { kind: 'put', startTs: start });
  };
  const flush = async () => {
    backend.commit([]);
    // Group commit is asynchronous: wait until the overlay drained (every write durable).
    while (backend.overlaySize > 0) await new Promise((r) => setTimeout(r, 5));
  };
  for (let v = 0; v < VERSIONS; v++) {
    for (let k = 0; k < N; k++) {
      const inode = 5_000 + k;
      const name = Buffer.from(`hot-file-${String(k).padStart(8, '0')}`);
      if (v === 0) commit(K.dentryKey(MOUNT, DIR, name), K.encodeDentry({ parent: DIR, name, inode, type: 'FILE' }));
      commit(K.inodeKey(MOUNT, inode), K.encodeInode({ inode, type: 'FILE', size: 4_096 * k + v, mode: 0o644, linkCount: 1, createdUnixNs: now, updatedUnixNs: now + BigInt(v), opaqueAttrs: Buffer.alloc(0) }));
    }
    commit(K.inodeKey(MOUNT, DIR), K.encodeInode({ inode: DIR, type: 'DIRECTORY', size: 0, mode: 0o755, linkCount: 2, createdUnixNs: now, updatedUnixNs: now, opaqueAttrs: Buffer.alloc(0) }));
    await flush();
  }
  const desc = bootstrapRegions([1, 2, 3])[0]!;
  const prefix = K.dentryPrefix(MOUNT, DIR);
  const op: ReadOp = {
    kind: 'scanRefs', start: prefix, end: K.prefixEnd(prefix), limit: N, ref: K.dentryInodeRef(MOUNT), keys: [K.inodeKey(MOUNT, DIR)], readTs: ts, bypassLocks: [],
  };
  const kv = loadProto(STORE_KV_PROTO).service(STORE_KV_SERVICE);
  const check = runRead(op, m, desc) as { pairs: Array<{ ref_found?: boolean }> };
  if (check.pairs.length !== N || !check.pairs.every((p) => p.ref_found)) throw new Error(`page has ${check.pairs.length} pairs, not all with inodes`);
  const time = (label: string, iters: number, fn: () => unknown) => {
    for (let k = 0; k < 20; k++) fn();
    const c0 = process.cpuUsage();
    for (let k = 0; k < iters; k++) fn();
    const c = process.cpuUsage(c0);
    const us = (c.user + c.system) / iters;
    console.log(`  ${label.padEnd(52)} ${us.toFixed(1).padStart(9)} µs`);
    return us;
  };
  console.log(`ScanRefs of ${N} dentries + inodes, ${VERSIONS} versions per inode, all durable (CPU µs per page):`);
  const read = time('region read (runRead scanRefs)', 200, () => runRead(op, m, desc));
  const reply = runRead(op, m, desc);
  const enc = time('reply encode (proto-loader)', 200, () => kv.ScanRefs!.responseSerialize(reply));
  console.log(`  ${'together'.padEnd(52)} ${(read + enc).toFixed(1).padStart(9)} µs`);
} finally {
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
}
