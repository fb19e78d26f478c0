// Test helpers for things that must not leak: temp dirs and loopback ports.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';

/** A fresh temp dir and a function that removes it; call the remover in after()/finally. */
export function makeTempDir(prefix = 'nokv-test-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

// Ports handed to test clusters come from below Linux's ephemeral range (32768-60999 here): a port the kernel
// picks with listen(0) is an ephemeral one, and between the probe and the cluster's own bind an outgoing
// connection of any process (ten roles dialing each other) can take it. Below the range only a listener can.
// The project's default ports (2380-3382, 8090, 9100-9400, 20170-20172, the dashboard's) stay clear of this span.
const TEST_PORT_FIRST = 21_000;
const TEST_PORT_LAST = 32_000;
const SPAN = TEST_PORT_LAST - TEST_PORT_FIRST + 1;
/** Where this process looks next; a random start keeps concurrent test processes apart. */
let cursor = Math.floor(Math.random() * SPAN);
const handedOut = new Set<number>();

// Test files running in parallel processes (mocha --parallel) each hand out ports: a claim file per port, named
// by the port and holding the claimer's pid, keeps two processes from handing out the same one between a probe
// and the cluster's bind. A claim whose pid is gone is stale and taken over; a process removes its claims (and
// the directory, once empty) when it exits.
const CLAIMS = join(tmpdir(), 'nokv-test-ports');
const claimed = new Set<number>();
let releaseHooked = false;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function releaseClaims(): void {
  for (const port of claimed) {
    try {
      unlinkSync(join(CLAIMS, String(port)));
    } catch {
      // already gone
    }
  }
  claimed.clear();
  try {
    rmdirSync(CLAIMS);
  } catch {
    // another process still holds claims
  }
}

function claim(port: number): boolean {
  if (!releaseHooked) {
    process.once('exit', releaseClaims);
    releaseHooked = true;
  }
  mkdirSync(CLAIMS, { recursive: true });
  const file = join(CLAIMS, String(port));
  try {
    writeFileSync(file, String(process.pid), { flag: 'wx' });
  } catch {
    let holder = NaN;
    try {
      holder = Number(readFileSync(file, 'utf8'));
    } catch {
      // released between the two calls: take it
    }
    if (holder !== process.pid && Number.isInteger(holder) && holder > 0 && alive(holder)) return false;
    writeFileSync(file, String(process.pid));
  }
  claimed.add(port);
  return true;
}

async function canListen(port: number): Promise<boolean> {
  const server = net.createServer();
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => resolve(true));
  });
  if (ok) await new Promise((r) => server.close(r));
  return ok;
}

/**
 * Free loopback ports for a test cluster, outside the ephemeral range: each is claimed for this process and probed
 * with a bind, and none is handed out twice by this process (until the whole span has been used once).
 */
export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let tried = 0; ports.length < count; tried++) {
    if (tried >= SPAN) throw new Error(`no ${count} free loopback ports in ${TEST_PORT_FIRST}-${TEST_PORT_LAST}`);
    const port = TEST_PORT_FIRST + (cursor++ % SPAN);
    if (handedOut.size >= SPAN - count) handedOut.clear();
    if (handedOut.has(port) || !claim(port)) continue;
    if (!(await canListen(port))) continue;
    handedOut.add(port);
    ports.push(port);
  }
  return ports;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls cond every intervalMs until it returns truthy or timeoutMs passes (then throws with what). */
export async function waitFor<T>(what: string, cond: () => T | Promise<T>, timeoutMs = 10000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await cond();
      if (v) return v;
    } catch (e) {
      lastErr = e;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`);
}
