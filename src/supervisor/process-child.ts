// Owns supervising an OS process: spawning it as a ChildInstance, stopping it (SIGTERM, then SIGKILL once
// shutdownMs pass on the injected clock), killing it, and turning how it ended into an ExitReason. This is
// what `nokv cluster` uses to run the role processes; "administratively stopped" is the supervisor's
// terminateChild/restartChild on such a child.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { SystemClock, type Clock, type TimerHandle } from '../common/clock.js';
import { serializeError } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/log.js';
import { trackResource } from '../common/resources.js';
import { ProcessExitError } from './errors.js';
import type { ChildInstance, ChildSpec, ExitReason, RestartType } from './types.js';

/** Grace period between SIGTERM and SIGKILL when the spec does not say. */
export const DEFAULT_PROCESS_SHUTDOWN_MS = 5000;

export interface ProcessChildOptions {
  id: string;
  command: string;
  args?: string[];
  /** Merged over the parent's environment; a key set to undefined removes that variable. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Default 'permanent'. */
  restart?: RestartType;
  /** SIGTERM-to-SIGKILL grace period; also the supervisor's shutdown for this child. */
  shutdownMs?: number;
  /** Appends the process's stdout and stderr to this file (created with its folder if missing). */
  logFile?: string;
  /** Where stdout/stderr go when there is no logFile; default 'ignore'. */
  stdio?: 'ignore' | 'inherit';
  /**
   * Run the process in its own process group, so a terminal's Ctrl-C reaches only the supervising process,
   * which then stops the children in order instead of having them all die at once.
   */
  detached?: boolean;
  /**
   * Open a Node IPC channel to the process (fd 3). It carries nothing; the child watches it close (its
   * 'disconnect'), which is how a role learns that its supervising process is gone, even after a SIGKILL.
   */
  parentChannel?: boolean;
  /** Times the SIGKILL escalation; default the system clock. */
  clock?: Clock;
  logger?: Logger;
  /**
   * Resolves once the process can serve (e.g. its port answers); start waits for it, so an ordered start
   * really is ordered. If it rejects, or the process exits first, the process is killed and start fails.
   */
  ready?: (proc: ProcessInstance) => Promise<void>;
}

/** A supervised child that is an OS process. */
export function processChildSpec(opts: ProcessChildOptions): ChildSpec {
  return {
    id: opts.id,
    type: 'worker',
    restart: opts.restart ?? 'permanent',
    shutdown: opts.shutdownMs ?? DEFAULT_PROCESS_SHUTDOWN_MS,
    start: () => ProcessInstance.spawn(opts),
  };
}

/**
 * How a process ended, as a supervisor reason. Exit code 0 is 'normal'; SIGTERM we sent to stop it is
 * 'shutdown'; SIGKILL we sent is 'killed'; anything else (a non-zero code, a signal from elsewhere) is an
 * error naming the code or signal, so even a transient child is restarted after `kill -9` from outside.
 */
export function processExitReason(
  id: string,
  pid: number,
  code: number | null,
  signal: NodeJS.Signals | null,
  sent: { term: boolean; kill: boolean },
): ExitReason {
  if (code === 0) return 'normal';
  if (signal === 'SIGTERM' && sent.term) return 'shutdown';
  if (signal === 'SIGKILL' && sent.kill) return 'killed';
  const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
  return { error: serializeError(new ProcessExitError(`process ${id} (pid ${pid}) ${how}`, { child: id, pid, code, signal })) };
}

export class ProcessInstance implements ChildInstance {
  readonly pid: number;
  private reason?: ExitReason;
  private readonly listeners: Array<(reason: ExitReason) => void> = [];
  private readonly exited: Promise<void>;
  private readonly sent = { term: false, kill: false };
  private killTimer?: TimerHandle;

  /** Spawns the process; resolves once it runs (and is ready, if the options say how to tell). */
  static async spawn(opts: ProcessChildOptions): Promise<ProcessInstance> {
    const log = (opts.logger ?? silentLogger()).child({ child: opts.id });
    const child = spawnChild(opts);
    if (child.pid === undefined) {
      // libuv could not start it (e.g. ENOENT); the reason arrives as an 'error' event.
      const err = await new Promise<Error>((resolve) => child.once('error', resolve));
      log.error({ command: opts.command, err: serializeError(err) }, 'process failed to spawn');
      throw err;
    }
    // Listen for the exit right away, before anything else can run.
    const proc = new ProcessInstance(opts, child, log);
    if (opts.ready) await proc.awaitReady(opts.ready);
    return proc;
  }

  private constructor(
    private readonly opts: ProcessChildOptions,
    private readonly child: ChildProcess,
    private readonly log: Logger,
  ) {
    this.pid = child.pid!;
    const untrack = trackResource({ kind: 'process', description: `${opts.id} pid ${this.pid}: ${opts.command}` });
    let resolveExited!: () => void;
    this.exited = new Promise((r) => (resolveExited = r));
    // The channel carries nothing this way; it must not keep this process alive on its own.
    child.channel?.unref();
    child.on('error', (err) => this.log.warn({ pid: this.pid, err: serializeError(err) }, 'process error'));
    child.once('exit', (code, signal) => {
      untrack();
      this.killTimer?.cancel();
      this.reason = processExitReason(opts.id, this.pid, code, signal, this.sent);
      this.log.debug({ pid: this.pid, code, signal }, 'process exited');
      resolveExited();
      for (const listener of this.listeners.splice(0)) listener(this.reason);
    });
    this.log.debug({ pid: this.pid, command: opts.command, args: opts.args ?? [] }, 'process spawned');
  }

  get running(): boolean {
    return this.reason === undefined;
  }

  /** SIGTERM, then SIGKILL if it is still running shutdownMs later; resolves once it has exited. */
  stop(): Promise<void> {
    if (this.reason !== undefined) return Promise.resolve();
    if (!this.sent.term) {
      this.sent.term = true;
      this.signal('SIGTERM');
      const graceMs = this.opts.shutdownMs ?? DEFAULT_PROCESS_SHUTDOWN_MS;
      this.killTimer = (this.opts.clock ?? new SystemClock()).setTimer(graceMs, () => {
        this.log.warn({ pid: this.pid, graceMs }, 'process ignored SIGTERM; sending SIGKILL');
        void this.kill();
      });
    }
    return this.exited;
  }

  /** SIGKILL; resolves once it has exited. */
  kill(): Promise<void> {
    if (this.reason !== undefined) return Promise.resolve();
    this.sent.kill = true;
    this.signal('SIGKILL');
    return this.exited;
  }

  onExit(listener: (reason: ExitReason) => void): void {
    if (this.reason !== undefined) listener(this.reason);
    else this.listeners.push(listener);
  }

  private signal(sig: NodeJS.Signals): void {
    try {
      this.child.kill(sig);
    } catch (err) {
      this.log.warn({ pid: this.pid, signal: sig, err: serializeError(err) }, 'could not signal process');
    }
  }

  private async awaitReady(ready: (proc: ProcessInstance) => Promise<void>): Promise<void> {
    const died = this.exited.then(() => {
      throw new ProcessExitError(`process ${this.opts.id} (pid ${this.pid}) exited before it was ready`, {
        child: this.opts.id,
        pid: this.pid,
      });
    });
    try {
      await Promise.race([ready(this), died]);
    } catch (err) {
      await this.kill();
      throw err;
    } finally {
      died.catch(() => undefined); // the race is decided; this loser must not surface as unhandled
    }
  }
}

function spawnChild(opts: ProcessChildOptions): ChildProcess {
  let fd: number | undefined;
  let stdio: Exclude<StdioOptions, string> = opts.stdio === 'inherit' ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'ignore', 'ignore'];
  if (opts.logFile) {
    mkdirSync(dirname(opts.logFile), { recursive: true });
    fd = openSync(opts.logFile, 'a');
    stdio = ['ignore', fd, fd];
  }
  if (opts.parentChannel) stdio = [...stdio, 'ipc'];
  try {
    return spawn(opts.command, opts.args ?? [], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio,
      detached: opts.detached ?? false,
    });
  } finally {
    // spawn() has handed the descriptor to the child by the time it returns; ours is no longer needed.
    if (fd !== undefined) closeSync(fd);
  }
}
