// Owns making the cluster's TLS material on disk with the system `openssl`: one CA per cluster and one
// certificate per process name, signed by it (EC P-256, serverAuth + clientAuth, so every process can both
// serve and call). A certificate's common name is the process name the raft transport checks (`store-2`); its
// subject alternative names are the hosts the process is reached at, plus localhost and 127.0.0.1.
// docs/security.md says why openssl (installed by .ci/run where missing) rather than an npm library.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { UnavailableError } from '../common/errors.js';
import { CA_CERT_FILE } from '../transport/grpc/tls.js';

const execFileAsync = promisify(execFile);
const CA_KEY_FILE = 'ca.key';
/** CA lifetime; the cluster is re-keyed by removing the folder. */
const CA_DAYS = 3650;
/** Leaf lifetime: 825 days is the longest some TLS clients accept. */
const LEAF_DAYS = 825;
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

export interface CertRequest {
  /** Process name: the certificate's common name and file name (`<name>.crt`, `<name>.key`). */
  name: string;
  /** Hosts (DNS names or IP addresses) the process is reached at. */
  hosts: string[];
}

/** Runs openssl; a missing binary or a failure is one UnavailableError line. */
async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileAsync('openssl', args, { cwd });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new UnavailableError('TLS needs the `openssl` command (3.0 or later); install it (Debian: apt-get install openssl)');
    throw new UnavailableError(`openssl ${args[0]} failed: ${e.stderr?.trim().split('\n')[0] ?? e.message}`);
  }
}

/**
 * Makes `dir` hold a CA (kept if present) and a certificate for every request that has none yet, issuing them
 * in parallel (each is one `openssl req -x509 -CA`). Returns the names it created. Keys are written 0600, the
 * folder is 0700.
 */
export async function ensureClusterCerts(dir: string, requests: CertRequest[]): Promise<string[]> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  if (!existsSync(join(dir, CA_CERT_FILE))) {
    await openssl(['req', '-x509', ...EC_KEY, '-keyout', CA_KEY_FILE, '-out', CA_CERT_FILE, '-days', String(CA_DAYS), '-subj', '/CN=nokv-cluster-ca',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
    chmodSync(join(dir, CA_KEY_FILE), 0o600);
  }
  const todo = requests.filter((r) => !existsSync(join(dir, `${r.name}.crt`)));
  await Promise.all(todo.map((r) => issue(dir, r)));
  return todo.map((r) => r.name);
}

async function issue(dir: string, r: CertRequest): Promise<void> {
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(r.name)) throw new UnavailableError(`invalid certificate name "${r.name}"`);
  const hosts = [...new Set(['localhost', '127.0.0.1', ...r.hosts])];
  const san = hosts.map((h) => (/^[\d.]+$/.test(h) || h.includes(':') ? `IP:${h.replace(/^\[|\]$/g, '')}` : `DNS:${h}`)).join(',');
  await openssl(['req', '-x509', '-CA', CA_CERT_FILE, '-CAkey', CA_KEY_FILE, ...EC_KEY, '-keyout', `${r.name}.key`, '-out', `${r.name}.crt`,
    '-days', String(LEAF_DAYS), '-subj', `/CN=${r.name}`, '-set_serial', `0x${randomBytes(16).toString('hex')}`,
    '-addext', 'basicConstraints=CA:FALSE', '-addext', 'keyUsage=critical,digitalSignature', '-addext', 'extendedKeyUsage=serverAuth,clientAuth',
    '-addext', `subjectAltName=${san}`], dir);
  chmodSync(join(dir, `${r.name}.key`), 0o600);
}
