#!/usr/bin/env node
// Thin launcher: the CLI runs from the compiled output in dist/.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/entry.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('nokv: not built yet; run `npm run build` first\n');
  process.exit(1);
}
const { runNokv } = await import(entry.href);
process.exitCode = await runNokv(process.argv.slice(2));
