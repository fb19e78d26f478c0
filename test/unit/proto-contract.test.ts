// The proto contract check: `buf lint` (STANDARD + COMMENTS, with the wire-fixing exceptions of buf.yaml) and
// `buf breaking` against proto/baseline/nokv-api.binpb pass on the repository's protos, and both fail when they
// should: on a copy of proto/ with a deleted field, a renumbered field or a removed comment. buf runs from
// node_modules (the @bufbuild/buf dev dependency), offline.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeTempDir } from '../support/env.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const BUF = join(repo, 'node_modules', '.bin', 'buf');
const BASELINE = join(repo, 'proto', 'baseline', 'nokv-api.binpb');
const STORE_KV = join('proto', 'nokv', 'kv', 'v1', 'store_kv.proto');

/** Runs buf in `cwd` (a directory holding buf.yaml) and returns its exit status and combined output. */
function buf(cwd: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [BUF, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** A copy of the repository's buf module (buf.yaml and proto/) whose store_kv.proto went through `edit`. */
function copyWith(dir: string, edit: (text: string) => string): void {
  cpSync(join(repo, 'buf.yaml'), join(dir, 'buf.yaml'));
  cpSync(join(repo, 'proto'), join(dir, 'proto'), { recursive: true });
  const file = join(dir, STORE_KV);
  const before = readFileSync(file, 'utf8');
  const after = edit(before);
  expect(after, 'the edit changed the file').to.not.equal(before);
  writeFileSync(file, after);
}

/** Replaces exactly one occurrence of `from` (so the test breaks loudly if the proto it edits moves on). */
function replaceOnce(text: string, from: string, to: string): string {
  expect(text.split(from).length - 1, `"${from}" occurs once in ${STORE_KV}`).to.equal(1);
  return text.replace(from, to);
}

/** GetRequest's `version` field with its comment (the key field before it makes the text unique). */
const GET_KEY = '  // The key (1..400 bytes, inside the region).\n  bytes key = 2;\n';
const GET_VERSION_COMMENT = [
  '  // The read version; 0 reads the latest version: the region leader takes a timestamp from the coordinator\n',
  '  // TSO after the request arrived (alongside its ReadIndex round), so the read sees every commit acknowledged\n',
  '  // before it was sent. A store with no TSO answer in time says FAILED_PRECONDITION, and a lock met at that version comes\n',
  '  // back as the error without the version, so a caller then reads again at a timestamp of its own.\n',
].join('');
const GET_REQUEST_VERSION = `${GET_KEY}${GET_VERSION_COMMENT}  uint64 version = 3;\n`;

describe('proto contract (buf lint and breaking check)', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof makeTempDir> | undefined;

  afterEach(() => {
    tmp?.remove();
    tmp = undefined;
  });

  it('buf from node_modules and the baseline image are present', () => {
    expect(existsSync(BUF), BUF).to.equal(true);
    expect(existsSync(BASELINE), BASELINE).to.equal(true);
    expect(buf(repo, ['--version']).out.trim()).to.match(/^\d+\.\d+\.\d+/);
  });

  it('the protos pass buf lint (STANDARD and COMMENTS)', () => {
    const r = buf(repo, ['lint']);
    expect(r.out).to.equal('');
    expect(r.status).to.equal(0);
  });

  it('the protos have no breaking change against proto/baseline/nokv-api.binpb', () => {
    const r = buf(repo, ['breaking', '--against', BASELINE]);
    expect(r.out).to.equal('');
    expect(r.status).to.equal(0);
  });

  it('breaking reports a deleted field', () => {
    tmp = makeTempDir('nokv-proto-');
    copyWith(tmp.path, (t) => replaceOnce(t, GET_REQUEST_VERSION, GET_KEY));
    const r = buf(tmp.path, ['breaking', '--against', BASELINE]);
    expect(r.status).to.not.equal(0);
    expect(r.out).to.match(/field "3" with name "version" on message "GetRequest" was deleted/);
  });

  it('breaking reports a changed field number', () => {
    tmp = makeTempDir('nokv-proto-');
    copyWith(tmp.path, (t) => replaceOnce(t, GET_REQUEST_VERSION, GET_REQUEST_VERSION.replace('= 3;', '= 13;')));
    const r = buf(tmp.path, ['breaking', '--against', BASELINE]);
    expect(r.status).to.not.equal(0);
    expect(r.out).to.match(/"GetRequest"/);
    expect(r.out).to.match(/field "3" with name "version" on message "GetRequest" was deleted/);
  });

  it('lint reports a field without a comment', () => {
    tmp = makeTempDir('nokv-proto-');
    copyWith(tmp.path, (t) => replaceOnce(t, GET_REQUEST_VERSION, `${GET_KEY}  uint64 version = 3;\n`));
    const r = buf(tmp.path, ['lint']);
    expect(r.status).to.not.equal(0);
    expect(r.out).to.match(/Field "version" should have a non-empty comment for documentation/);
    // The copy is otherwise the repository's protos: that one field is all lint finds.
    expect(r.out.trim().split('\n')).to.have.length(1);
  });
});
