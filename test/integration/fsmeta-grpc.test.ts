// The fsmeta gRPC API on loopback (in-memory KV behind the real server): every RPC's happy path, and each error
// case of the contract, including the stricter namespace rules, with its exact gRPC status; with the gateway's
// watch sessions on the main thread and on a worker thread (NOKV_FSMETA_WORKERS): unary RPCs never touch them.
import { expect } from 'chai';
import { dir, file, FsClient, FSMETA_WORKERS, startTestGateway, type TestGateway } from '../fixtures/fsmeta-gateway.js';

const M = 'vol';
const ROOT = '1';

for (const workers of FSMETA_WORKERS) describe(`fsmeta gRPC API (--workers ${workers})`, function () {
  this.timeout(20_000);
  let t: TestGateway;
  let c: FsClient;
  const nsFromNow = (ms: number) => (BigInt(Date.now() + ms) * 1_000_000n).toString();
  const create = async (parent: string, name: string, attrs: object = file()) => (await c.call('Create', { mount: M, parent, name, attrs })).inode.inode as string;

  before(async () => {
    t = await startTestGateway({ token: 'secret', workers });
    c = t.client;
    t.duties.registerMount(M, 1);
    t.duties.registerMount('old', 1);
    t.duties.retireMount('old');
  });
  after(async () => {
    await t?.stop();
  });

  it('Create, Lookup, GetAttr and ReadDir/ReadDirPlus return the records in name order at one version', async () => {
    const d = await create(ROOT, 'docs', dir());
    await create(d, 'b.txt', file(10));
    await create(d, 'a.txt', file(20));
    const look = await c.call('Lookup', { mount: M, parent: d, name: 'a.txt' });
    expect(look.dentry).to.include({ name: 'a.txt', type: 'INODE_TYPE_FILE', parent: d });
    const attr = await c.call('GetAttr', { mount: M, inode: look.dentry.inode });
    expect(attr.inode).to.include({ size: '20', link_count: 1, type: 'INODE_TYPE_FILE' });
    const root = await c.call('GetAttr', { mount: M, inode: ROOT });
    expect(root.inode.type).to.equal('INODE_TYPE_DIRECTORY');
    const page = await c.call('ReadDir', { mount: M, parent: d, limit: 0 });
    expect(page.entries.map((e: any) => e.name)).to.deep.equal(['a.txt', 'b.txt']);
    const plus = await c.call('ReadDirPlus', { mount: M, parent: d, start_after: 'a.txt', limit: 5 });
    expect(plus.entries.map((e: any) => [e.dentry.name, e.inode.size])).to.deep.equal([['b.txt', '10']]);
    expect(Number(plus.read_version)).to.be.greaterThan(0);
  });

  it('validation failures are INVALID_ARGUMENT', async () => {
    expect(await c.status('Create', { mount: '', parent: ROOT, name: 'x', attrs: file() })).to.equal('INVALID_ARGUMENT');
    expect(await c.status('Create', { mount: M, parent: '0', name: 'x', attrs: file() })).to.equal('INVALID_ARGUMENT');
    for (const name of ['', '.', '..', 'a/b', 'nul\0']) expect(await c.status('Create', { mount: M, parent: ROOT, name, attrs: file() }), name).to.equal('INVALID_ARGUMENT');
    expect(await c.status('Create', { mount: M, parent: ROOT, name: 'u', attrs: { type: 'INODE_TYPE_UNSPECIFIED' } })).to.equal('INVALID_ARGUMENT');
    expect(await c.status('Create', { mount: M, parent: ROOT, name: 'big', attrs: { ...file(), opaque_attrs: Buffer.alloc(16 * 1024 + 1) } })).to.equal('INVALID_ARGUMENT');
    expect(await c.status('ReadDir', { mount: M, parent: ROOT, limit: 16385 })).to.equal('INVALID_ARGUMENT');
    expect(await c.status('ExpireWriteSessions', { mount: M, limit: 16385 })).to.equal('INVALID_ARGUMENT');
    expect(await c.status('UpdateInode', { mount: M, parent: ROOT, name: 'docs', inode: '5' })).to.equal('INVALID_ARGUMENT');
  });

  it('mount admission: unknown mount is NOT_FOUND, retired mount is FAILED_PRECONDITION; reads are not admitted', async () => {
    expect(await c.status('Create', { mount: 'nope', parent: ROOT, name: 'x', attrs: file() })).to.equal('NOT_FOUND');
    expect(await c.status('Create', { mount: 'old', parent: ROOT, name: 'x', attrs: file() })).to.equal('FAILED_PRECONDITION');
    expect(await c.status('SnapshotSubtree', { mount: 'old', root_inode: ROOT })).to.equal('FAILED_PRECONDITION');
    expect(await c.status('Lookup', { mount: 'nope', parent: ROOT, name: 'x' })).to.equal('NOT_FOUND');
    expect(await c.status('ReadDir', { mount: 'nope', parent: ROOT })).to.equal('NOT_FOUND');
    expect((await c.call('ReadDir', { mount: 'old', parent: ROOT })).entries, 'a retired mount stays readable').to.deep.equal([]);
  });

  it('ReadDir and ReadDirPlus list only directories: a file is FAILED_PRECONDITION, a missing inode or an unknown mount NOT_FOUND', async () => {
    const f = await create(ROOT, 'listme.txt');
    const d = await create(ROOT, 'listdir', dir());
    for (const rpc of ['ReadDir', 'ReadDirPlus']) {
      expect(await c.status(rpc, { mount: M, parent: f }), `${rpc} of a file`).to.equal('FAILED_PRECONDITION');
      expect(await c.status(rpc, { mount: M, parent: '424242' }), `${rpc} of a missing inode`).to.equal('NOT_FOUND');
      expect(await c.status(rpc, { mount: 'nope', parent: ROOT }), `${rpc} in an unknown mount`).to.equal('NOT_FOUND');
      expect((await c.call(rpc, { mount: M, parent: d })).entries, `${rpc} of an empty directory`).to.deep.equal([]);
    }
    // At a snapshot, the parent is judged as it was then.
    const snap = await c.call('SnapshotSubtree', { mount: M, root_inode: ROOT });
    await c.call('RemoveDirectory', { mount: M, parent: ROOT, name: 'listdir' });
    expect(await c.status('ReadDir', { mount: M, parent: d })).to.equal('NOT_FOUND');
    expect(await c.status('ReadDir', { mount: M, parent: d, snapshot_version: snap.read_version })).to.equal('OK');
  });

  it('names are bytes end to end: any bytes but "/" and NUL, stored and returned exactly, never merged', async () => {
    const raw = new FsClient(t.gw.addr, 'secret', { names: 'bytes' });
    try {
      const d = await create(ROOT, 'bytes', dir());
      // 0xff and 0xfe are not UTF-8: decoded, both would become U+FFFD and the two names would collide.
      const names = [Buffer.from([0x61, 0xff]), Buffer.from([0x61, 0xfe]), Buffer.from('caf\u00e9'), Buffer.from([0x63, 0x61, 0x66, 0xe9])];
      for (const name of names) await raw.call('Create', { mount: M, parent: d, name, attrs: file() });
      const page = await raw.call('ReadDirPlus', { mount: M, parent: d });
      const listed = page.entries.map((e: any) => Buffer.from(e.dentry.name).toString('hex'));
      expect(listed).to.deep.equal([...names].sort(Buffer.compare).map((n) => n.toString('hex')));
      for (const name of names) expect(Buffer.from((await raw.call('Lookup', { mount: M, parent: d, name })).dentry.name).equals(name)).to.equal(true);
      const after = await raw.call('ReadDir', { mount: M, parent: d, start_after: Buffer.from([0x61, 0xfe]) });
      expect(after.entries.map((e: any) => Buffer.from(e.name).toString('hex'))).to.deep.equal(['61ff', ...[names[3]!, names[2]!].sort(Buffer.compare).map((n) => n.toString('hex'))]);
      await raw.call('Rename', { mount: M, from_parent: d, from_name: names[0], to_parent: d, to_name: Buffer.from([0xc0, 0x80]) });
      expect(await raw.status('Lookup', { mount: M, parent: d, name: Buffer.from([0xc0, 0x80]) })).to.equal('OK');
      const bad = [Buffer.alloc(0), Buffer.from('.'), Buffer.from('..'), Buffer.from('a/b'), Buffer.from([0x61, 0x00]), Buffer.alloc(256, 0x61)];
      for (const name of bad) expect(await raw.status('Create', { mount: M, parent: d, name, attrs: file() }), name.toString('hex')).to.equal('INVALID_ARGUMENT');
      expect(await raw.status('Create', { mount: M, parent: d, name: Buffer.alloc(255, 0xff), attrs: file() }), '255 bytes').to.equal('OK');
    } finally {
      raw.close();
    }
  });

  it('mutations need the bearer token (UNAUTHENTICATED without it); reads do not', async () => {
    const { Metadata } = await import('@grpc/grpc-js');
    expect(await c.status('Create', { mount: M, parent: ROOT, name: 'tok', attrs: file() }, new Metadata())).to.equal('UNAUTHENTICATED');
    expect(await c.status('ReadDir', { mount: M, parent: ROOT }, new Metadata())).to.equal('OK');
  });

  it('Create refuses a taken name (ALREADY_EXISTS), a missing parent (NOT_FOUND) and a file parent (FAILED_PRECONDITION)', async () => {
    await create(ROOT, 'taken');
    expect(await c.status('Create', { mount: M, parent: ROOT, name: 'taken', attrs: file() })).to.equal('ALREADY_EXISTS');
    expect(await c.status('Create', { mount: M, parent: '987654', name: 'x', attrs: file() })).to.equal('NOT_FOUND');
    const f = await create(ROOT, 'plain');
    expect(await c.status('Create', { mount: M, parent: f, name: 'x', attrs: file() })).to.equal('FAILED_PRECONDITION');
  });

  it('UpdateInode sets fields and refuses a missing entry, a wrong inode and a hard-linked inode', async () => {
    const f = await create(ROOT, 'upd', file(5));
    const r = await c.call('UpdateInode', { mount: M, parent: ROOT, name: 'upd', inode: f, set_size: true, size: 99, set_mode: true, mode: 0o600 });
    expect(r.inode).to.include({ size: '99', mode: 0o600 });
    expect(await c.status('UpdateInode', { mount: M, parent: ROOT, name: 'ghost', inode: f, set_size: true, size: 1 })).to.equal('NOT_FOUND');
    expect(await c.status('UpdateInode', { mount: M, parent: ROOT, name: 'upd', inode: '424242', set_size: true, size: 1 })).to.equal('INVALID_ARGUMENT');
    await c.call('Link', { mount: M, from_parent: ROOT, from_name: 'upd', to_parent: ROOT, to_name: 'upd-link' });
    expect(await c.status('UpdateInode', { mount: M, parent: ROOT, name: 'upd', inode: f, set_size: true, size: 1 })).to.equal('INVALID_ARGUMENT');
  });

  it('Rename and RenameSubtree move entries; same path, missing source and cycles are refused', async () => {
    const a = await create(ROOT, 'ra', dir());
    const b = await create(a, 'rb', dir());
    await create(b, 'leaf');
    await c.call('Rename', { mount: M, from_parent: b, from_name: 'leaf', to_parent: a, to_name: 'leaf2' });
    expect((await c.call('Lookup', { mount: M, parent: a, name: 'leaf2' })).dentry.parent).to.equal(a);
    expect(await c.status('Rename', { mount: M, from_parent: a, from_name: 'leaf2', to_parent: a, to_name: 'leaf2' })).to.equal('INVALID_ARGUMENT');
    expect(await c.status('Rename', { mount: M, from_parent: a, from_name: 'nope', to_parent: a, to_name: 'x' })).to.equal('NOT_FOUND');
    expect(await c.status('Rename', { mount: M, from_parent: ROOT, from_name: 'ra', to_parent: b, to_name: 'loop' })).to.equal('FAILED_PRECONDITION');
    expect(await c.status('Rename', { mount: M, from_parent: ROOT, from_name: 'ra', to_parent: a, to_name: 'self' })).to.equal('FAILED_PRECONDITION');
    expect(await c.status('Rename', { mount: M, from_parent: a, from_name: 'leaf2', to_parent: '777777', to_name: 'x' })).to.equal('NOT_FOUND');
    const before = t.duties.events.length;
    await c.call('RenameSubtree', { mount: M, from_parent: ROOT, from_name: 'ra', to_parent: ROOT, to_name: 'ra2' });
    expect(t.duties.events.slice(before).map((e) => e.kind)).to.deep.equal(['subtree_handoff_started', 'subtree_handoff_completed']);
    expect((await c.call('Lookup', { mount: M, parent: ROOT, name: 'ra2' })).dentry.inode).to.equal(a);
  });

  it('Rename replaces an existing destination as rename(2) does, unless no_replace', async () => {
    const d = await create(ROOT, 'rp', dir());
    const src = await create(d, 'src', file(7));
    const old = await create(d, 'old', file(5));
    expect(await c.status('Rename', { mount: M, from_parent: d, from_name: 'src', to_parent: d, to_name: 'old', no_replace: true }), 'RENAME_NOREPLACE').to.equal('ALREADY_EXISTS');
    expect(await c.status('RenameSubtree', { mount: M, from_parent: d, from_name: 'src', to_parent: d, to_name: 'old', no_replace: true })).to.equal('ALREADY_EXISTS');
    // File over file: the destination's inode goes with its last link.
    await c.call('Rename', { mount: M, from_parent: d, from_name: 'src', to_parent: d, to_name: 'old' });
    expect((await c.call('Lookup', { mount: M, parent: d, name: 'old' })).dentry.inode).to.equal(src);
    expect(await c.status('Lookup', { mount: M, parent: d, name: 'src' })).to.equal('NOT_FOUND');
    expect(await c.status('GetAttr', { mount: M, inode: old })).to.equal('NOT_FOUND');
    // File over a hard-linked file: the other name keeps the inode, one link fewer.
    const kept = await create(d, 'kept', file(1));
    await c.call('Link', { mount: M, from_parent: d, from_name: 'kept', to_parent: d, to_name: 'kept2' });
    await c.call('Rename', { mount: M, from_parent: d, from_name: 'old', to_parent: d, to_name: 'kept' });
    expect((await c.call('GetAttr', { mount: M, inode: kept })).inode.link_count).to.equal(1);
    // Two names of one inode: a successful no-op, both names stay.
    await c.call('Link', { mount: M, from_parent: d, from_name: 'kept', to_parent: d, to_name: 'same' });
    await c.call('Rename', { mount: M, from_parent: d, from_name: 'kept', to_parent: d, to_name: 'same' });
    expect((await c.call('ReadDir', { mount: M, parent: d })).entries.map((e: any) => e.name)).to.deep.equal(['kept', 'kept2', 'same']);
    // Directory over an empty directory; not over a non-empty one, a file over a directory or the reverse.
    const e1 = await create(d, 'e1', dir());
    const e2 = await create(d, 'e2', dir());
    const full = await create(d, 'full', dir());
    await create(full, 'x');
    expect(await c.status('Rename', { mount: M, from_parent: d, from_name: 'e1', to_parent: d, to_name: 'full' }), 'non-empty').to.equal('FAILED_PRECONDITION');
    expect(await c.status('Rename', { mount: M, from_parent: d, from_name: 'e1', to_parent: d, to_name: 'kept' }), 'directory over a file').to.equal('FAILED_PRECONDITION');
    expect(await c.status('Rename', { mount: M, from_parent: d, from_name: 'kept', to_parent: d, to_name: 'e2' }), 'file over a directory').to.equal('FAILED_PRECONDITION');
    await c.call('Rename', { mount: M, from_parent: d, from_name: 'e1', to_parent: d, to_name: 'e2' });
    expect((await c.call('Lookup', { mount: M, parent: d, name: 'e2' })).dentry.inode).to.equal(e1);
    expect(await c.status('GetAttr', { mount: M, inode: e2 })).to.equal('NOT_FOUND');
    expect(await c.status('ReadDir', { mount: M, parent: e2 }), 'the replaced directory is gone').to.equal('NOT_FOUND');
    expect(await c.status('Rename', { mount: M, from_parent: d, from_name: 'e2', to_parent: full, to_name: 'x' }), 'directory over a file elsewhere').to.equal('FAILED_PRECONDITION');
  });

  it('Link adds a name and a link count; directories, missing sources and taken names are refused', async () => {
    const f = await create(ROOT, 'lk', file(3));
    await c.call('Link', { mount: M, from_parent: ROOT, from_name: 'lk', to_parent: ROOT, to_name: 'lk2' });
    expect((await c.call('GetAttr', { mount: M, inode: f })).inode.link_count).to.equal(2);
    await create(ROOT, 'lkdir', dir());
    expect(await c.status('Link', { mount: M, from_parent: ROOT, from_name: 'lkdir', to_parent: ROOT, to_name: 'x' })).to.equal('INVALID_ARGUMENT');
    expect(await c.status('Link', { mount: M, from_parent: ROOT, from_name: 'ghost', to_parent: ROOT, to_name: 'x' })).to.equal('NOT_FOUND');
    expect(await c.status('Link', { mount: M, from_parent: ROOT, from_name: 'lk', to_parent: ROOT, to_name: 'lk2' })).to.equal('ALREADY_EXISTS');
    expect(await c.status('Link', { mount: M, from_parent: ROOT, from_name: 'lk', to_parent: ROOT, to_name: 'lk' })).to.equal('INVALID_ARGUMENT');
  });

  it('Unlink removes files (last link removes the inode) and refuses directories; RemoveDirectory needs an empty directory', async () => {
    const f = await create(ROOT, 'ul', file());
    await c.call('Link', { mount: M, from_parent: ROOT, from_name: 'ul', to_parent: ROOT, to_name: 'ul2' });
    await c.call('Unlink', { mount: M, parent: ROOT, name: 'ul' });
    expect((await c.call('GetAttr', { mount: M, inode: f })).inode.link_count).to.equal(1);
    await c.call('Unlink', { mount: M, parent: ROOT, name: 'ul2' });
    expect(await c.status('GetAttr', { mount: M, inode: f })).to.equal('NOT_FOUND');
    expect(await c.status('Unlink', { mount: M, parent: ROOT, name: 'ul2' })).to.equal('NOT_FOUND');
    const d = await create(ROOT, 'rmd', dir());
    await create(d, 'child');
    expect(await c.status('Unlink', { mount: M, parent: ROOT, name: 'rmd' })).to.equal('FAILED_PRECONDITION');
    expect(await c.status('RemoveDirectory', { mount: M, parent: ROOT, name: 'rmd' })).to.equal('FAILED_PRECONDITION');
    expect(await c.status('RemoveDirectory', { mount: M, parent: d, name: 'child' })).to.equal('FAILED_PRECONDITION');
    await c.call('Unlink', { mount: M, parent: d, name: 'child' });
    await c.call('RemoveDirectory', { mount: M, parent: ROOT, name: 'rmd' });
    expect(await c.status('Lookup', { mount: M, parent: ROOT, name: 'rmd' })).to.equal('NOT_FOUND');
    expect(await c.status('RemoveDirectory', { mount: M, parent: ROOT, name: 'rmd' })).to.equal('NOT_FOUND');
  });

  it('SnapshotSubtree freezes a version that ReadDir can read later; Retire publishes the retirement', async () => {
    const d = await create(ROOT, 'snapdir', dir());
    await create(d, 'one');
    const snap = await c.call('SnapshotSubtree', { mount: M, root_inode: ROOT });
    await create(d, 'two');
    const then = await c.call('ReadDir', { mount: M, parent: d, snapshot_version: snap.read_version });
    const now = await c.call('ReadDir', { mount: M, parent: d });
    expect(then.entries.map((e: any) => e.name)).to.deep.equal(['one']);
    expect(now.entries.map((e: any) => e.name)).to.deep.equal(['one', 'two']);
    await c.call('RetireSnapshotSubtree', { mount: M, root_inode: ROOT, read_version: snap.read_version });
    expect(t.duties.events.at(-1)).to.include({ kind: 'snapshot_epoch_retired' });
    expect(await c.status('RetireSnapshotSubtree', { mount: M, root_inode: ROOT, read_version: '0' })).to.equal('INVALID_ARGUMENT');
  });

  it('quota fences refuse growth with RESOURCE_EXHAUSTED and GetQuotaUsage reports usage of fenced scopes', async () => {
    t.duties.registerMount('q', 1);
    t.duties.setQuotaFence('q', 0, { limitBytes: 0, limitInodes: 2 });
    t.duties.setQuotaFence('q', 1, { limitBytes: 100, limitInodes: 0 });
    await c.call('Create', { mount: 'q', parent: ROOT, name: 'a', attrs: file(60) });
    expect(await c.status('Create', { mount: 'q', parent: ROOT, name: 'b', attrs: file(50) })).to.equal('RESOURCE_EXHAUSTED');
    await c.call('Create', { mount: 'q', parent: ROOT, name: 'b', attrs: file(40) });
    expect(await c.status('Create', { mount: 'q', parent: ROOT, name: 'c', attrs: file(0) })).to.equal('RESOURCE_EXHAUSTED');
    expect(await c.call('GetQuotaUsage', { mount: 'q', scope: 0 })).to.deep.include({ inodes: '2' });
    expect(await c.call('GetQuotaUsage', { mount: 'q', scope: 1 })).to.deep.include({ bytes: '100' });
    await c.call('Unlink', { mount: 'q', parent: ROOT, name: 'a' });
    expect(await c.call('GetQuotaUsage', { mount: 'q', scope: 0 })).to.deep.include({ inodes: '1' });
    expect(await c.call('GetQuotaUsage', { mount: 'q', scope: 42 })).to.deep.include({ bytes: '0', inodes: '0' });
  });

  it('writer sessions: open, conflicting opens, heartbeat, close and expiry', async () => {
    const f = await create(ROOT, 'sess', file());
    const d = await create(ROOT, 'sessdir', dir());
    const open = (session: string, inode: string, ms: number) => c.status('OpenWriteSession', { mount: M, inode, session, expires_unix_ns: nsFromNow(ms) });
    expect(await open('w1', f, -1000)).to.equal('INVALID_ARGUMENT');
    expect(await open('w1', '555555', 60_000)).to.equal('NOT_FOUND');
    expect(await open('w1', d, 60_000)).to.equal('INVALID_ARGUMENT');
    expect(await open('', f, 60_000)).to.equal('INVALID_ARGUMENT');
    expect(await open('w1', f, 60_000)).to.equal('OK');
    expect(await open('w1', f, 60_000)).to.equal('ALREADY_EXISTS');
    expect(await open('w2', f, 60_000)).to.equal('ALREADY_EXISTS');
    const hb = await c.call('HeartbeatWriteSession', { mount: M, inode: f, session: 'w1', expires_unix_ns: nsFromNow(120_000) });
    expect(hb.session.session).to.equal('w1');
    expect(await c.status('HeartbeatWriteSession', { mount: M, inode: f, session: 'w2', expires_unix_ns: nsFromNow(1000) })).to.equal('NOT_FOUND');
    await c.call('CloseWriteSession', { mount: M, session: 'w1' });
    expect(await c.status('CloseWriteSession', { mount: M, session: 'w1' })).to.equal('NOT_FOUND');
    expect(await open('w3', f, 150)).to.equal('OK');
    await new Promise((r) => setTimeout(r, 300));
    expect(await c.status('HeartbeatWriteSession', { mount: M, inode: f, session: 'w3', expires_unix_ns: nsFromNow(1000) })).to.equal('NOT_FOUND');
    const ex = await c.call('ExpireWriteSessions', { mount: M, limit: 0 });
    expect(ex.expired).to.equal('1');
    expect(await c.status('CloseWriteSession', { mount: M, session: 'w3' })).to.equal('NOT_FOUND');
  });
});
