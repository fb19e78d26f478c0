// Owns one `nokv fs` command's session: finding the gateway through src/cli/target.ts, the client, the path
// walker, and the coreutils habit of going on after a failed operand (one line per failure, exit 1 at the end).
import type { FlagSpecs, Parsed } from '../../cli/flags.js';
import { UsageError } from '../../cli/flags.js';
import { requireReachable, resolveTarget, withWhere } from '../../cli/target.js';
import { FsMetaClient } from '../fsmeta.js';
import { asPathError, FsPathError, PathWalker } from './paths.js';

export const fsFlags: FlagSpecs = {
  mount: { type: 'string', help: 'mount id', default: 'default' },
  'root-inode': { type: 'int', help: "the mount's root inode (as registered)", default: 1, min: 1 },
  timeout: { type: 'duration', help: 'give up on a call after this long (all retries included)', default: 10_000, min: 1 },
};

export interface FsSession {
  client: FsMetaClient;
  walk: PathWalker;
  mount: string;
  json: boolean;
  out(line: string): void;
  /** Runs `fn` for one operand; a path failure prints "nokv fs VERB: <what>: <reason>" and marks the command failed. */
  each(what: (reason: string) => string, fn: () => Promise<void>): Promise<void>;
}

/** Opens a client for the command's cluster, runs `fn`, closes it; exit 1 if any operand failed. */
export async function withFs(verb: string, args: Parsed, fn: (s: FsSession) => Promise<void>): Promise<number> {
  const f = args.flags;
  const mount = f.mount as string;
  if (mount === '') throw new UsageError('--mount is empty');
  const t = resolveTarget(f);
  const endpoints = t.endpoints('fsmeta');
  await requireReachable(t, 'fsmeta', endpoints);
  const client = new FsMetaClient({ endpoints, ...(t.token ? { token: t.token } : {}), retry: { callBudgetMs: f.timeout as number } });
  let failed = false;
  const s: FsSession = {
    client, mount, json: Boolean(f.json),
    walk: new PathWalker(client, mount, BigInt(f['root-inode'] as number)),
    out: (line) => process.stdout.write(`${line}\n`),
    each: async (what, op) => {
      try {
        await op();
      } catch (err) {
        const e = asPathError(err);
        if (!(e instanceof FsPathError)) throw e;
        failed = true;
        process.stderr.write(`nokv fs ${verb}: ${what(e.reason)}\n`);
      }
    },
  };
  try {
    await fn(s);
    return failed ? 1 : 0;
  } catch (err) {
    throw withWhere(err, t, 'fsmeta', endpoints);
  } finally {
    client.close();
  }
}
