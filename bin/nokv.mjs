#!/usr/bin/env node
// Thin launcher: the CLI runs from the compiled output in dist/.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/entry.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('nokv: not built yet; run `npm run build` first\n');
  process.exit(1);
}
const { runNokv } = await import(entry.href);
// Exit as soon as the command is done: a stopped role must not linger on a client's idle channel or an
// abandoned long-poll (stdout and stderr are synchronous for files and pipes on Linux, so nothing is lost).
process.exit(await runNokv(process.argv.slice(2)));
