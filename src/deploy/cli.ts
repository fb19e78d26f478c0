// Owns `nokv compose` and `nokv kube`: print the deployment files generated from a topology file (by default
// the image's container topology, docker/topology.docker.json). The repository's docker/docker-compose*.yml and
// deploy/kubernetes/nokv.yaml are exactly this output; a test keeps them so.
import { fileURLToPath } from 'node:url';
import type { Command } from '../cli/command.js';
import { UsageError, type Parsed } from '../cli/flags.js';
import { loadTopology, type Topology } from '../config/topology.js';
import { COMPOSE_HEADER, COMPOSE_TLS_HEADER, composeFile, composeTlsOverride } from './compose.js';
import { DEFAULT_KUBE_OPTIONS, KUBE_HEADER, kubeManifests, type KubeOptions } from './kubernetes.js';
import { toYaml, toYamlDocuments } from './yaml.js';

/** The container topology shipped with the package (and in the image). */
export const CONTAINER_TOPOLOGY = fileURLToPath(new URL('../../../docker/topology.docker.json', import.meta.url));

function topologyOf(args: Parsed): Topology {
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`);
  try {
    return loadTopology((args.flags.topology as string | undefined) ?? CONTAINER_TOPOLOGY);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

const topologyFlag = { topology: { type: 'string' as const, help: 'topology JSON with container or host names (default: docker/topology.docker.json)' } };

export function composeText(t: Topology, tls: boolean): string {
  return tls ? COMPOSE_TLS_HEADER + toYaml(composeTlsOverride(t)) : COMPOSE_HEADER + toYaml(composeFile(t));
}

export function kubeText(t: Topology, o: KubeOptions = DEFAULT_KUBE_OPTIONS): string {
  return KUBE_HEADER + toYamlDocuments(kubeManifests(t, o));
}

export const composeCommand: Command = {
  name: 'compose',
  summary: 'print the Docker Compose file of a topology (--tls: the mutual-TLS override)',
  globalFlags: false,
  flags: { ...topologyFlag, tls: { type: 'bool', help: 'print docker-compose.tls.yml, the override that turns on mutual TLS' } },
  run: async (args) => {
    process.stdout.write(composeText(topologyOf(args), Boolean(args.flags.tls)));
  },
};

const QUANTITY = /^[1-9][0-9]*(Ki|Mi|Gi|Ti)$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export const kubeCommand: Command = {
  name: 'kube',
  summary: 'print Kubernetes manifests of a topology: StatefulSets, headless Services, PodDisruptionBudgets, a mount Job',
  globalFlags: false,
  flags: {
    ...topologyFlag,
    image: { type: 'string', help: 'container image of every role', default: DEFAULT_KUBE_OPTIONS.image },
    storage: { type: 'string', help: 'size of each meta-root and store volume (e.g. 10Gi)', default: DEFAULT_KUBE_OPTIONS.storage },
    'storage-class': { type: 'string', help: "volumes' storageClassName (default: the cluster's default class)" },
  },
  run: async (args) => {
    const f = args.flags;
    const image = f.image as string;
    if (image === '' || /\s/.test(image)) throw new UsageError('--image must be an image reference without spaces');
    if (!QUANTITY.test(f.storage as string)) throw new UsageError(`--storage takes a size such as 10Gi, not "${f.storage as string}"`);
    const storageClass = f['storage-class'] as string | undefined;
    if (storageClass !== undefined && !DNS_LABEL.test(storageClass)) throw new UsageError(`--storage-class "${storageClass}" is not a valid name`);
    process.stdout.write(kubeText(topologyOf(args), { image, storage: f.storage as string, ...(storageClass ? { storageClass } : {}) }));
  },
};
