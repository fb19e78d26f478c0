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
import { fsCommand } from '../client/fs/command.js';
import { composeCommand, kubeCommand } from '../deploy/cli.js';

/** Role processes take their own flags (a role's --data-dir is its folder), not the global ones. */
const role = (c: Command): Command => ({ ...c, globalFlags: false });

const commands: Command[] = [clusterCommand, role(metaRootCommand), configCommand, ...coordinatorCommands, role(storeCommand), role(fsmetaCommand), fsCommand, composeCommand, kubeCommand];

/** What nokv creates (data dirs, LMDB files, the token, logs, certificates) is for its user only: 0700 / 0600. */
export const NOKV_UMASK = 0o077;

export async function runNokv(argv: string[]): Promise<number> {
  process.umask(NOKV_UMASK);
  return main(argv, commands);
}
