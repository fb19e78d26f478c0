// The error cases of the fsmeta error table (docs/fsmeta.md) that a client cannot reach through the API alone,
// because they need records no operation writes (a dentry whose inode is gone, an inode whose type disagrees
// with its dentry, a link count at its 32-bit limit): hand-made records in the in-memory KV, then the executor.
import { expect } from 'chai';
import { NokvError } from '../../src/common/errors.js';
import * as K from '../../src/gateway/keys.js';
import { MAX_LINK_COUNT, type InodeRecord } from '../../src/gateway/types.js';
import { makeHarness, MOUNT, ROOT } from '../fixtures/fsmeta-harness.js';

const n = (s: string) => Buffer.from(s);

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (err) {
    if (err instanceof NokvError) return err.code;
    throw err;
  }
}

function inode(id: number, over: Partial<InodeRecord> = {}): InodeRecord {
  return { inode: id, type: 'FILE', size: 0, mode: 0o644, linkCount: 1, createdUnixNs: 0n, updatedUnixNs: 0n, opaqueAttrs: Buffer.alloc(0), ...over };
}

describe('fsmeta error cases on hand-made records', () => {
  it('ReadDirPlus of a page with a dangling dentry is NOT_FOUND (never a partial page); ReadDir still lists it', async () => {
    const h = makeHarness(new Map());
    const tx = h.kv.begin(h.kv.tso.nextSync());
    tx.put(K.dentryKey(MOUNT, ROOT, n('ghost')), K.encodeDentry({ parent: ROOT, name: n('ghost'), inode: 77, type: 'FILE' }));
    await tx.commit();
    const req = { mount: MOUNT, parent: ROOT, startAfter: Buffer.alloc(0), limit: 0, snapshotVersion: 0n };
    expect(await code(h.exec.readDirPlus(req))).to.equal('NOT_FOUND');
    expect((await h.exec.readDir(req)).entries.map((e) => e.name.toString())).to.deep.equal(['ghost']);
  });

  it('UpdateInode of an inode whose type differs from its dentry is INVALID_ARGUMENT', async () => {
    const h = makeHarness(new Map());
    const tx = h.kv.begin(h.kv.tso.nextSync());
    tx.put(K.dentryKey(MOUNT, ROOT, n('odd')), K.encodeDentry({ parent: ROOT, name: n('odd'), inode: 78, type: 'FILE' }));
    tx.put(K.inodeKey(MOUNT, 78), K.encodeInode(inode(78, { type: 'DIRECTORY' })));
    await tx.commit();
    expect(await code(h.exec.updateInode({ mount: MOUNT, parent: ROOT, name: n('odd'), inode: 78, size: 1 }))).to.equal('INVALID_ARGUMENT');
  });

  it('Link of an inode at the maximum link count is INVALID_ARGUMENT', async () => {
    const h = makeHarness(new Map());
    const tx = h.kv.begin(h.kv.tso.nextSync());
    tx.put(K.dentryKey(MOUNT, ROOT, n('many')), K.encodeDentry({ parent: ROOT, name: n('many'), inode: 79, type: 'FILE' }));
    tx.put(K.inodeKey(MOUNT, 79), K.encodeInode(inode(79, { linkCount: MAX_LINK_COUNT })));
    await tx.commit();
    const req = { mount: MOUNT, fromParent: ROOT, fromName: n('many'), toParent: ROOT, toName: n('one-more') };
    expect(await code(h.exec.link(req))).to.equal('INVALID_ARGUMENT');
  });
});
