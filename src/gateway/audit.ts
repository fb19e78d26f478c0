// Owns the offline consistency audit of one mount: it reads the mount's whole key range at one version and
// reports every broken namespace invariant (dangling dentries, type mismatches, link counts that differ from
// the references, directories without a parent record or in a cycle, sessions and owners that disagree).
// The seeded checkers run it after every step; an operator can run it as a scrub.
import * as K from './keys.js';
import type { TransactionalKv } from './kv.js';
import type { DentryRecord, InodeRecord, QuotaUsage, SessionRecord } from './types.js';
import { MAX_TREE_DEPTH, showName } from './types.js';

/** Keys one audit reads at most; a larger mount is audited in part and says so. */
export const MAX_AUDIT_KEYS = 1_000_000;

export interface MountDump {
  dentries: DentryRecord[];
  inodes: InodeRecord[];
  parents: Map<number, K.ParentRecord>;
  sessions: SessionRecord[];
  owners: SessionRecord[];
  usage: Map<number, QuotaUsage>;
}

export async function dumpMount(kv: TransactionalKv, mount: string, ts: bigint): Promise<MountDump> {
  const prefix = K.mountPrefix(mount);
  const pairs = await kv.begin(ts).scan(prefix, K.prefixEnd(prefix), MAX_AUDIT_KEYS);
  const dump: MountDump = { dentries: [], inodes: [], parents: new Map(), sessions: [], owners: [], usage: new Map() };
  for (const { key, value } of pairs) {
    const kind = key[prefix.length];
    const body = key.subarray(prefix.length + 1);
    if (kind === K.KIND_DENTRY) dump.dentries.push(K.decodeDentry(value));
    else if (kind === K.KIND_INODE) dump.inodes.push(K.decodeInode(value));
    else if (kind === K.KIND_PARENT) dump.parents.set(Number(body.readBigUInt64BE(0)), K.decodeParent(value));
    else if (kind === K.KIND_SESSION) (body[0] === 0 ? dump.owners : dump.sessions).push(K.decodeSession(value));
    else if (kind === K.KIND_USAGE) dump.usage.set(Number(body.readBigUInt64BE(0)), K.decodeUsage(value));
  }
  return dump;
}

export function auditDump(d: MountDump, rootInode: number): string[] {
  const issues: string[] = [];
  const inodes = new Map(d.inodes.map((i) => [i.inode, i]));
  const refs = new Map<number, number>();
  for (const e of d.dentries) {
    const at = `dentry ${e.parent}/${showName(e.name)}`;
    const i = inodes.get(e.inode);
    if (!i) issues.push(`${at} -> missing inode ${e.inode}`);
    else if (i.type !== e.type) issues.push(`${at} type ${e.type} != inode type ${i.type}`);
    if (e.parent !== rootInode && inodes.get(e.parent)?.type !== 'DIRECTORY') issues.push(`${at}: parent is not a live directory`);
    refs.set(e.inode, (refs.get(e.inode) ?? 0) + 1);
    if (e.type === 'DIRECTORY') {
      const p = d.parents.get(e.inode);
      if (!p || p.parent !== e.parent || !p.name.equals(e.name)) issues.push(`directory ${e.inode}: parent record disagrees with its dentry`);
    }
  }
  for (const i of d.inodes) {
    const n = refs.get(i.inode) ?? 0;
    if (n !== i.linkCount) issues.push(`inode ${i.inode}: link_count ${i.linkCount} != references ${n}`);
    if (i.type === 'DIRECTORY' && n > 1) issues.push(`directory ${i.inode} has ${n} dentries`);
  }
  for (const dir of d.parents.keys()) {
    if (inodes.get(dir)?.type !== 'DIRECTORY') issues.push(`parent record for ${dir}, which is not a live directory`);
    let cur = dir;
    for (let depth = 0; cur !== rootInode; depth++) {
      const p = d.parents.get(cur);
      if (!p || depth > MAX_TREE_DEPTH || depth > d.parents.size) {
        issues.push(`directory ${dir} does not reach the root (cycle or broken chain)`);
        break;
      }
      cur = p.parent;
    }
  }
  const same = (a?: SessionRecord, b?: SessionRecord) => !!a && !!b && a.session === b.session && a.inode === b.inode && a.expiresUnixNs === b.expiresUnixNs;
  const bySession = new Map(d.sessions.map((s) => [s.session, s]));
  const byOwner = new Map(d.owners.map((o) => [o.inode, o]));
  for (const s of d.sessions) if (!same(byOwner.get(s.inode), s)) issues.push(`session ${s.session} has no matching owner record`);
  for (const o of d.owners) if (!same(bySession.get(o.session), o)) issues.push(`owner of ${o.inode} has no matching session record`);
  return issues;
}
