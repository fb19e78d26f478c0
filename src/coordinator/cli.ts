// Owns the coordinator's commands: the role (`nokv coordinator --coordinator-id ID`), the planned handover
// (`nokv coordinator handover --to ID`), and the client helpers `nokv tso`, `nokv id alloc`,
// `nokv mount register|retire|get|list` and `nokv quota set|get|list`. Every helper finds the coordinators
// and the token through src/cli/target.ts (--endpoints, NOKV_ENDPOINTS, or the cluster's topology) and fails
// within seconds, in one line, when none answers.
import type { Command } from '../cli/command.js';
import { UsageError, type FlagSpecs, type Parsed } from '../cli/flags.js';
import { requireReachable, resolveTarget, withWhere } from '../cli/target.js';
import { CoordinatorClient } from './client.js';
import { coordinatorRoleFlags, runCoordinatorRole } from './role.js';

const clientFlags: FlagSpecs = {
  timeout: { type: 'duration', help: 'give up after this long (all retries included)', default: 10_000, min: 1 },
};

async function withClient(flags: Parsed['flags'], fn: (c: CoordinatorClient) => Promise<void>): Promise<number> {
  const t = resolveTarget(flags);
  const endpoints = t.endpoints('coordinator');
  await requireReachable(t, 'coordinator', endpoints);
  const c = new CoordinatorClient({ endpoints, callBudgetMs: flags.timeout as number, ...(t.token ? { token: t.token } : {}) });
  try {
    await fn(c);
    return 0;
  } catch (err) {
    throw withWhere(err, t, 'coordinator', endpoints);
  } finally {
    c.close();
  }
}

const print = (flags: Parsed['flags'], value: unknown, text: string) =>
  process.stdout.write(flags.json ? JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) + '\n' : text + '\n');

function noPositionals(args: Parsed): void {
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
}

const handoverFlags: FlagSpecs = {
  to: { type: 'string', help: 'coordinator id that takes over (handover only)' },
};

export const coordinatorCommand: Command = {
  name: 'coordinator',
  summary: 'run a coordinator (`--coordinator-id ID`), or `handover --to ID` to move the lease',
  usage: '[handover --to ID] [flags]',
  flags: { ...coordinatorRoleFlags, ...handoverFlags, ...clientFlags },
  run: async (args) => {
    const [verb, ...rest] = args.positionals;
    if (verb === undefined) return runCoordinatorRole(args);
    if (verb !== 'handover' || rest.length > 0) throw new UsageError(`unknown argument "${verb}" (did you mean \`coordinator handover --to ID\`?)`);
    const to = args.flags.to as string | undefined;
    if (!to) throw new UsageError('handover needs --to ID');
    return withClient(args.flags, async (c) => {
      const r = await c.handover(to);
      print(args.flags, r, `handover ${r.from} era ${r.legacy_era} -> ${r.to} era ${r.successor_era}: ${r.stage}`);
    });
  },
};

export const tsoCommand: Command = {
  name: 'tso',
  summary: 'get a timestamp from the active coordinator (printed as a decimal integer)',
  flags: { ...clientFlags, count: { type: 'int', help: 'reserve this many consecutive timestamps', default: 1, min: 1, max: 10_000 } },
  run: async (args) => {
    noPositionals(args);
    return withClient(args.flags, async (c) => {
      const r = await c.tso(args.flags.count as number);
      print(args.flags, r, r.timestamp.toString());
    });
  },
};

export const idCommand: Command = {
  name: 'id',
  summary: 'cluster-unique IDs',
  subcommands: [
    {
      name: 'alloc',
      summary: 'allocate IDs (prints the first; with --count N they are first..first+N-1)',
      flags: { ...clientFlags, count: { type: 'int', help: 'how many IDs', default: 1, min: 1, max: 10_000 } },
      run: async (args) => {
        noPositionals(args);
        return withClient(args.flags, async (c) => {
          const r = await c.allocId(args.flags.count as number);
          const last = r.first + BigInt(r.count) - 1n;
          print(args.flags, r, r.count === 1 ? r.first.toString() : `${r.first}..${last}`);
        });
      },
    },
  ],
};

const mountFlag: FlagSpecs = { mount: { type: 'string', help: 'mount id', required: true } };

function mountLine(m: { mount_id: string; root_inode: string; schema_version: string; state: string }): string {
  return `${m.mount_id}\troot_inode=${m.root_inode}\tschema=${m.schema_version}\t${m.state}`;
}

export const mountCommand: Command = {
  name: 'mount',
  summary: 'rooted mount lifecycle',
  subcommands: [
    {
      name: 'register',
      summary: 'register a mount (idempotent)',
      flags: {
        ...clientFlags,
        ...mountFlag,
        'root-inode': { type: 'int', help: 'root inode', default: 1, min: 1 },
        'schema-version': { type: 'int', help: 'schema version', default: 1, min: 1 },
      },
      run: async (args) => {
        noPositionals(args);
        return withClient(args.flags, async (c) => {
          const r = await c.registerMount(args.flags.mount as string, args.flags['root-inode'] as number, args.flags['schema-version'] as number);
          print(args.flags, r, `${r.created ? 'registered' : 'already registered'} ${mountLine(r.mount)}`);
        });
      },
    },
    {
      name: 'retire',
      summary: 'retire a mount (terminal)',
      flags: { ...clientFlags, ...mountFlag },
      run: async (args) => {
        noPositionals(args);
        return withClient(args.flags, async (c) => {
          const r = await c.retireMount(args.flags.mount as string);
          print(args.flags, r, `retired ${mountLine(r.mount)}`);
        });
      },
    },
    {
      name: 'get',
      summary: 'show one mount',
      flags: { ...clientFlags, ...mountFlag },
      run: async (args) => {
        noPositionals(args);
        return withClient(args.flags, async (c) => {
          const r = await c.getMount(args.flags.mount as string);
          print(args.flags, r, r.not_found ? `mount ${args.flags.mount} not found` : mountLine(r.mount));
        });
      },
    },
    {
      name: 'list',
      summary: 'list mounts',
      flags: { ...clientFlags, all: { type: 'bool', help: 'include retired mounts' } },
      run: async (args) => {
        noPositionals(args);
        return withClient(args.flags, async (c) => {
          const r = await c.listMounts(Boolean(args.flags.all));
          print(args.flags, r, r.mounts.length === 0 ? '(no mounts)' : r.mounts.map(mountLine).join('\n'));
        });
      },
    },
  ],
};

function quotaLine(q: { subject: string; limit_bytes: string; limit_inodes: string; era: string }): string {
  return `${q.subject}\tbytes=${q.limit_bytes === '0' ? 'unlimited' : q.limit_bytes}\tinodes=${q.limit_inodes === '0' ? 'unlimited' : q.limit_inodes}\tera=${q.era}`;
}

export const quotaCommand: Command = {
  name: 'quota',
  summary: 'rooted quota fences',
  subcommands: [
    {
      name: 'set',
      summary: 'set a quota fence (subject = mount or mount/inode)',
      flags: {
        ...clientFlags,
        subject: { type: 'string', help: 'quota subject', required: true },
        'limit-bytes': { type: 'int', help: '0 = unlimited', default: 0, min: 0 },
        'limit-inodes': { type: 'int', help: '0 = unlimited', default: 0, min: 0 },
        era: { type: 'int', help: 'fence era (0 = current + 1)', default: 0, min: 0 },
      },
      run: async (args) => {
        noPositionals(args);
        const f = args.flags;
        return withClient(f, async (c) => {
          const r = await c.setQuota(f.subject as string, f['limit-bytes'] as number, f['limit-inodes'] as number, f.era as number);
          print(f, r, `set ${quotaLine(r.fence)}`);
        });
      },
    },
    {
      name: 'get',
      summary: 'show one quota fence',
      flags: { ...clientFlags, subject: { type: 'string', help: 'quota subject', required: true } },
      run: async (args) => {
        noPositionals(args);
        return withClient(args.flags, async (c) => {
          const r = await c.getQuota(args.flags.subject as string);
          print(args.flags, r, r.not_found ? `quota ${args.flags.subject} not found` : quotaLine(r.fence));
        });
      },
    },
    {
      name: 'list',
      summary: 'list quota fences',
      flags: clientFlags,
      run: async (args) => {
        noPositionals(args);
        return withClient(args.flags, async (c) => {
          const r = await c.listQuotas();
          print(args.flags, r, r.fences.length === 0 ? '(no quota fences)' : r.fences.map(quotaLine).join('\n'));
        });
      },
    },
  ],
};

export const coordinatorCommands: Command[] = [coordinatorCommand, tsoCommand, idCommand, mountCommand, quotaCommand];
