// A `nokv fsmeta` process for the fsmeta benches, on free loopback ports: started with the given binary and
// flags, ready once it serves mount default (GetAttr of inode 1), stopped with SIGTERM then SIGKILL after 5 s.
import { spawn, type ChildProcess } from 'node:child_process';
import { freePorts, waitFor } from '../test/support/env.js';
import { FsClient } from '../test/fixtures/fsmeta-gateway.js';

export interface GatewayProcess {
  addr: string;
  stop(): Promise<void>;
}

export async function startGatewayProcess(opts: {
  /** Path of the `nokv` entry point to run (this tree's or a baseline's). */
  nokvBin: string;
  /** Flags after `fsmeta`, except --addr and --metrics-addr, which this picks. */
  args: string[];
  /** Bearer token for the readiness probe. */
  token?: string;
  env?: NodeJS.ProcessEnv;
  /** What to call it in a readiness timeout. */
  what: string;
}): Promise<GatewayProcess> {
  const [port, metrics] = await freePorts(2);
  const addr = `127.0.0.1:${port}`;
  const child: ChildProcess = spawn(process.execPath, [opts.nokvBin, 'fsmeta', ...opts.args, '--addr', addr, '--metrics-addr', `127.0.0.1:${metrics}`], {
    stdio: ['ignore', 'ignore', 'inherit'],
    ...(opts.env ? { env: opts.env } : {}),
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(t);
  };
  const probe = new FsClient(addr, opts.token);
  try {
    await waitFor(opts.what, async () => (await probe.call('GetAttr', { mount: 'default', inode: '1' }).catch(() => undefined))?.inode, 30_000, 200);
  } catch (err) {
    await stop();
    throw err;
  } finally {
    probe.close();
  }
  return { addr, stop };
}
