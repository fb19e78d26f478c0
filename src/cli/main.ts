// Owns the `nokv` command tree. Each role contributes its own Command from its folder; this file only wires
// them together so `nokv --help` lists everything.
import { readFileSync } from 'node:fs';
import { dispatch, type Command } from './command.js';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

const versionCommand: Command = {
  name: 'version',
  summary: 'print the nokv version (also `nokv --version`)',
  flags: {},
  run: async ({ flags }) => {
    const v = { nokv: packageVersion(), node: process.version };
    process.stdout.write(flags.json ? `${JSON.stringify(v)}\n` : `nokv ${v.nokv} (node ${v.node})\n`);
  },
};

/** `nokv --version`, `nokv -V` and `nokv-config --version` are `nokv version`. */
function versionAlias(argv: string[]): string[] {
  const at = argv[0] === 'config' ? 1 : 0;
  return argv.length === at + 1 && (argv[at] === '--version' || argv[at] === '-V') ? ['version'] : argv;
}

export function rootCommand(extra: Command[] = []): Command {
  return {
    name: 'nokv',
    summary: 'NoKV: a highly available namespace-metadata cluster',
    subcommands: [...extra, versionCommand],
  };
}

export async function main(argv: string[], extra: Command[] = []): Promise<number> {
  return dispatch(rootCommand(extra), versionAlias(argv));
}
