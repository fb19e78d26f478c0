// Root hooks for every test run: after the last test, fail the run if anything was left behind — a worker
// thread or child process our code registered, a listening socket, or a child process of this process.
import { readFileSync, readdirSync } from 'node:fs';
import { liveResources } from '../../src/common/resources.js';

const LEAKY_HANDLES = new Set(['TCPServerWrap', 'TCPSocketWrap', 'ProcessWrap', 'UDPWrap', 'PipeServerWrap']);

function childPids(): number[] {
  const pids: number[] = [];
  try {
    for (const task of readdirSync(`/proc/${process.pid}/task`)) {
      const text = readFileSync(`/proc/${process.pid}/task/${task}/children`, 'utf8').trim();
      if (text) pids.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // not Linux: the handle check below still runs
  }
  return pids;
}

function leaks(): string[] {
  const found: string[] = [];
  for (const r of liveResources()) found.push(`${r.kind}: ${r.description}`);
  for (const h of process.getActiveResourcesInfo()) if (LEAKY_HANDLES.has(h)) found.push(`handle: ${h}`);
  for (const pid of childPids()) found.push(`child process: pid ${pid}`);
  return found;
}

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(15000);
    // Give closing sockets and exiting children a moment to finish their own teardown.
    let found = leaks();
    for (let i = 0; i < 50 && found.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      found = leaks();
    }
    if (found.length > 0) {
      throw new Error(`test run left resources behind:\n  ${found.join('\n  ')}`);
    }
  },
};
