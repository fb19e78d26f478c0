// Owns the process-wide registry of things that must be released: worker threads, child processes, servers.
// Code that creates such a resource registers it here and unregisters it when disposed; the test harness fails
// the run if anything is still registered after the last test.

export interface TrackedResource {
  kind: 'worker' | 'process' | 'server' | 'lmdb' | 'tempdir' | 'other';
  description: string;
}

const live = new Map<number, TrackedResource>();
let nextToken = 1;

/** Registers a live resource; call the returned function when it has been released. */
export function trackResource(resource: TrackedResource): () => void {
  const token = nextToken++;
  live.set(token, resource);
  return () => {
    live.delete(token);
  };
}

export function liveResources(): TrackedResource[] {
  return [...live.values()];
}
