// The generated TypeScript types (src/generated/proto/) are exactly what `npm run proto:gen` makes from proto/
// today: a proto change without regenerating fails here, naming the files that differ.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir } from '../support/env.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const committed = join(repo, 'src', 'generated', 'proto');

function files(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p, 'utf8'));
    }
  };
  walk(dir);
  return out;
}

describe('generated proto types', function () {
  this.timeout(60_000);

  it('src/generated/proto is what `npm run proto:gen` generates from proto/ (run it after changing a proto)', () => {
    const tmp = makeTempDir('nokv-proto-gen-');
    try {
      execFileSync(process.execPath, [join(repo, 'scripts', 'proto-gen.mjs'), tmp.path], { stdio: 'pipe' });
      const want = files(tmp.path);
      const have = files(committed);
      const missing = [...want.keys()].filter((f) => !have.has(f));
      const extra = [...have.keys()].filter((f) => !want.has(f));
      const stale = [...want.keys()].filter((f) => have.has(f) && have.get(f) !== want.get(f));
      expect({ missing, extra, stale }, 'run `npm run proto:gen` and commit src/generated/proto').to.deep.equal({ missing: [], extra: [], stale: [] });
      expect(want.size).to.be.greaterThan(100);
    } finally {
      tmp.remove();
    }
  });
});
