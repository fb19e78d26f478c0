// Owns the list of role and admin commands that make up `nokv`. Kept apart from main.ts so tests can build a
// command tree without loading every role.
import { main } from './main.js';
import type { Command } from './command.js';
import { clusterCommand } from '../cluster/cli.js';
import { metaRootCommand } from '../metaroot/role.js';
import { configCommand } from '../metaroot/config-cli.js';
import { coordinatorCommands } from '../coordinator/cli.js';
import { storeCommand } from '../store/role.js';
import { fsmetaCommand } from '../gateway/role.js';

const commands: Command[] = [clusterCommand, metaRootCommand, configCommand, ...coordinatorCommands, storeCommand, fsmetaCommand];

export async function runNokv(argv: string[]): Promise<number> {
  return main(argv, commands);
}
