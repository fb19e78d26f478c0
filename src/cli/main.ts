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
  summary: 'print the nokv version',
  flags: {},
  run: async () => {
    process.stdout.write(`nokv ${packageVersion()} (node ${process.version})\n`);
  },
};

export function rootCommand(extra: Command[] = []): Command {
  return {
    name: 'nokv',
    summary: 'NoKV: a highly available namespace-metadata cluster',
    subcommands: [...extra, versionCommand],
  };
}

export async function main(argv: string[], extra: Command[] = []): Promise<number> {
  return dispatch(rootCommand(extra), argv);
}
