// Owns the owner side of a raft group driven from outside (RaftGroupOptions.externalDrive) in the simulator:
// the mailbox the production actors give their group (meta-root peer actor, region actor), reduced to what
// the contract needs — messages handled one at a time, in order, a handler's promise holding the mailbox.
/**
 * The owner of a group driven from outside (externalDrive), as the meta-root peer actor and the region actor
 * do: one mailbox, one message at a time; a handler that returns a promise (finishReady with disk work) holds
 * the mailbox until it settles. Raft input, ticks, client calls and persist completions all go through it.
 */
export class Mailbox {
  private readonly queue: Array<() => void | Promise<void>> = [];
  private running = false;
  closed = false;

  constructor(private readonly onError: (err: unknown) => void) {}

  post(fn: () => void | Promise<void>): void {
    if (this.closed) return;
    this.queue.push(fn);
    if (!this.running) {
      this.running = true;
      queueMicrotask(() => void this.run());
    }
  }

  /** Runs `fn` as a message; its promise (e.g. a proposal) settles later without holding the mailbox. */
  call<T>(fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => this.post(() => void fn().then(resolve, reject)));
  }

  private async run(): Promise<void> {
    while (this.queue.length > 0 && !this.closed) {
      const fn = this.queue.shift()!;
      try {
        const r = fn();
        if (r) await r;
      } catch (err) {
        this.onError(err);
      }
    }
    this.running = false;
  }
}
