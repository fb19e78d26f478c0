// Owns the shape of a `nokv` subcommand and the dispatcher that routes argv to one, prints help, and turns
// usage errors into one line on stderr with exit code 2.
import { UsageError, formatFlagHelp, parseFlags, type FlagSpecs, type Parsed } from './flags.js';
import { NokvError } from '../common/errors.js';
import { GLOBAL_FLAGS } from './target.js';
import { oneLine } from './errors.js';

export interface Command {
  name: string;
  summary: string;
  /** Nested subcommands (e.g. `cluster up`); a command has either subcommands or run. */
  subcommands?: Command[];
  flags?: FlagSpecs;
  /** Whether GLOBAL_FLAGS (how to find a cluster, --json) apply; false for role processes, which take their own. */
  globalFlags?: boolean;
  usage?: string;
  run?: (args: Parsed) => Promise<number | void>;
}

function helpText(path: string[], cmd: Command): string {
  const lines = [`usage: ${path.join(' ')}${cmd.subcommands ? ' <command>' : ''} ${cmd.usage ?? (cmd.flags ? '[flags]' : '')}`.trimEnd(), '', cmd.summary];
  if (cmd.subcommands) {
    lines.push('', 'commands:');
    for (const sub of cmd.subcommands) lines.push(`  ${sub.name.padEnd(22)} ${sub.summary}`);
  }
  if (cmd.flags && Object.keys(cmd.flags).length > 0) lines.push('', 'flags:', formatFlagHelp(cmd.flags));
  if (!cmd.subcommands && cmd.globalFlags !== false) {
    const globals = Object.fromEntries(Object.entries(GLOBAL_FLAGS).filter(([name]) => !cmd.flags?.[name]));
    if (Object.keys(globals).length > 0) lines.push('', 'global flags (every command):', formatFlagHelp(globals));
  }
  return lines.join('\n') + '\n';
}

/** Runs argv against the command tree; returns the process exit code. */
export interface TextSink {
  write(text: string): unknown;
}

export async function dispatch(root: Command, argv: string[], out: TextSink = process.stdout, err: TextSink = process.stderr): Promise<number> {
  const path = [root.name];
  let cmd = root;
  let rest = argv;
  try {
    while (cmd.subcommands) {
      const [next, ...tail] = rest;
      if (next === undefined || next === '--help' || next === '-h' || next === 'help') {
        out.write(helpText(path, cmd));
        return next === undefined ? 2 : 0;
      }
      const sub = cmd.subcommands.find((c) => c.name === next);
      if (!sub) throw new UsageError(`unknown command "${next}" for "${path.join(' ')}" (see ${path.join(' ')} --help)`);
      path.push(sub.name);
      cmd = sub;
      rest = tail;
    }
    if (rest.includes('--help') || rest.includes('-h')) {
      out.write(helpText(path, cmd));
      return 0;
    }
    // A command's own flag of a global name wins (a role's --data-dir is its own folder).
    const parsed = parseFlags(rest, cmd.globalFlags === false ? (cmd.flags ?? {}) : { ...GLOBAL_FLAGS, ...cmd.flags });
    const code = await cmd.run!(parsed);
    return code ?? 0;
  } catch (e) {
    if (e instanceof UsageError) {
      err.write(`${path.join(' ')}: ${e.message}\n`);
      return 2;
    }
    err.write(`${path.join(' ')}: ${oneLine(e)}\n`);
    // Input the cluster refused as invalid is still a usage error of this command.
    return e instanceof NokvError && e.code === 'INVALID_ARGUMENT' ? 2 : 1;
  }
}
