// Owns the cluster's mount bootstrap, the counterpart of upstream's one-shot mount-init step: once the
// coordinators are up, register mount `default` (root inode 1, schema 1) through them, retrying until a
// coordinator accepts. RegisterMount is idempotent, so a restarted cluster (or one where the mount already
// exists) passes straight through. It runs as an ordered child of the cluster supervisor, after the stores and
// before any fsmeta gateway, so a gateway always finds the mount.
import type { Logger } from '../common/log.js';
import { CoordinatorClient } from '../coordinator/client.js';
import { serviceChildSpec } from '../roles/service-child.js';
import type { ChildSpec } from '../supervisor/types.js';

export const DEFAULT_MOUNT_ID = 'default';
export const DEFAULT_MOUNT_ROOT_INODE = 1;
export const DEFAULT_MOUNT_SCHEMA_VERSION = 1;
/** Give up (and fail the cluster start) after this long without a coordinator accepting the registration. */
export const MOUNT_INIT_TIMEOUT_MS = 60_000;
/** Pause between attempts (upstream's mount-init sleeps 1 s). */
export const MOUNT_INIT_RETRY_MS = 1_000;

export interface MountInitOptions {
  coordinatorAddrs: string[];
  token?: string;
  logger: Logger;
  /** Reports progress for `cluster status` and `cluster up --detach`. */
  onState: (state: 'pending' | 'done') => void;
}

/** Registers mount `default` once; resolves when a coordinator accepted it, throws after the timeout. */
export async function registerDefaultMount(o: Omit<MountInitOptions, 'onState'>, isStopping: () => boolean = () => false): Promise<void> {
  const client = new CoordinatorClient({ endpoints: o.coordinatorAddrs, ...(o.token ? { token: o.token } : {}), callBudgetMs: 5_000 });
  const deadline = Date.now() + MOUNT_INIT_TIMEOUT_MS;
  let lastErr: unknown;
  try {
    while (Date.now() < deadline && !isStopping()) {
      try {
        const r = await client.registerMount(DEFAULT_MOUNT_ID, DEFAULT_MOUNT_ROOT_INODE, DEFAULT_MOUNT_SCHEMA_VERSION);
        o.logger.info({ mount: DEFAULT_MOUNT_ID, created: r.created }, 'mount-init: mount registered');
        return;
      } catch (err) {
        lastErr = err;
        await new Promise((r) => setTimeout(r, MOUNT_INIT_RETRY_MS));
      }
    }
  } finally {
    client.close();
  }
  throw new Error(`mount-init: mount ${DEFAULT_MOUNT_ID} not registered within ${MOUNT_INIT_TIMEOUT_MS} ms: ${(lastErr as Error)?.message ?? lastErr}`);
}

/** A temporary supervisor child: its start registers the mount; there is nothing to stop afterwards. */
export function mountInitChildSpec(o: MountInitOptions): ChildSpec {
  let stopping = false;
  return serviceChildSpec({
    id: 'mount-init',
    restart: 'temporary',
    start: async () => {
      stopping = false;
      o.onState('pending');
      await registerDefaultMount(o, () => stopping);
      o.onState('done');
      return {
        stop: async () => {
          stopping = true;
        },
      };
    },
  });
}
