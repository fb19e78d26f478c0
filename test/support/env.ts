// Test helpers for things that must not leak: temp dirs and loopback ports.
import { mkdtempSync, rmSync } from 'node:fs';
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
 * Free loopback ports for a test cluster, outside the ephemeral range: each is probed with a bind, and none is
 * handed out twice by this process (until the whole span has been used once).
 */
export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let tried = 0; ports.length < count; tried++) {
    if (tried >= SPAN) throw new Error(`no ${count} free loopback ports in ${TEST_PORT_FIRST}-${TEST_PORT_LAST}`);
    const port = TEST_PORT_FIRST + (cursor++ % SPAN);
    if (handedOut.size >= SPAN - count) handedOut.clear();
    if (handedOut.has(port) || !(await canListen(port))) continue;
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
