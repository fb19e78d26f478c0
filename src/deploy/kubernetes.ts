// Owns the Kubernetes manifests, generated from the same topology as the compose files: per role a headless
// Service (stable DNS names role-N.role, published before readiness so raft peers find each other) and a
// StatefulSet (stable identities; the pod's ordinal picks its id from the topology's list), a
// PodDisruptionBudget (one replica of a role down at a time), /readyz and /healthz probes on the metrics port,
// persistent volumes for meta-root and store data, the topology as a ConfigMap, and a Job registering mount
// "default". The cluster token is a Secret the operator creates (docs/deploy.md).
import type { Topology } from '../config/topology.js';
import { DEFAULT_MOUNT, LIVE_PATH, READY_PATH, replicasOf, roleArgs, type Replica, type RoleKind, type RolePaths } from './replicas.js';
import type { YamlValue } from './yaml.js';

export interface KubeOptions {
  image: string;
  /** Size of each meta-root and store volume. */
  storage: string;
  /** storageClassName of the volumes; undefined = the cluster's default class. */
  storageClass?: string;
}

export const DEFAULT_KUBE_OPTIONS: KubeOptions = { image: 'nokv-ts:0.1.0', storage: '1Gi' };
export const TOKEN_SECRET = 'nokv-token';
const CONFIG_MAP = 'nokv-topology';
const PATHS: RolePaths = { config: '/etc/nokv/topology.json', tokenFile: '/etc/nokv-token/cluster.token', dataDir: '/data/nokv' };
/** The image's `node` user (docker/Dockerfile runs as it). */
const RUN_AS = 1000;

type Obj = Record<string, YamlValue>;

const labels = (role: RoleKind): Obj => ({ 'app.kubernetes.io/name': 'nokv', 'app.kubernetes.io/component': role });

/** Replica i of a role lives at `role-i.role` (StatefulSet pod i behind the headless Service). */
export const podHost = (role: RoleKind, ordinal: number) => `${role}-${ordinal}.${role}`;

/** The topology with every host replaced by the pod's stable DNS name; ports and ids unchanged. */
export function kubeTopology(t: Topology): Topology {
  const at = (role: RoleKind, i: number, addr: string) => `${podHost(role, i)}:${addr.slice(addr.lastIndexOf(':') + 1)}`;
  return {
    ...t,
    meta_root: { ...t.meta_root, peers: t.meta_root.peers.map((p, i) => ({ ...p, addr: at('meta-root', i, p.addr), raft_addr: at('meta-root', i, p.raft_addr), metrics_addr: at('meta-root', i, p.metrics_addr) })) },
    coordinators: t.coordinators.map((c, i) => ({ ...c, addr: at('coordinator', i, c.addr), metrics_addr: at('coordinator', i, c.metrics_addr) })),
    stores: t.stores.map((s, i) => ({ ...s, addr: at('store', i, s.addr), metrics_addr: at('store', i, s.metrics_addr) })),
    fsmeta: t.fsmeta.map((f, i) => ({ ...f, addr: at('fsmeta', i, f.addr), metrics_addr: at('fsmeta', i, f.metrics_addr) })),
  };
}

/**
 * The container's shell line: the pod ordinal (the hostname's last field) picks the id and the certificate name
 * from the role's lists, so every pod of one StatefulSet runs the same spec.
 */
function startScript(replicas: Replica[]): string {
  const r = replicas[0]!;
  const args = roleArgs(r, PATHS).map((a) => (a === r.name ? '"$name"' : a));
  return [
    'i="${HOSTNAME##*-}"',
    `set -- ${replicas.map((x) => x.id).join(' ')}; shift "$i"; id="$1"`,
    `set -- ${replicas.map((x) => x.name).join(' ')}; shift "$i"; name="$1"`,
    `exec node /opt/nokv/bin/nokv.mjs ${r.role} ${r.idFlag} "$id" ${args.join(' ')}`,
  ].join('\n');
}

function ports(r: Replica): Obj[] {
  return [
    { name: 'grpc', containerPort: r.ports.grpc },
    ...(r.ports.raft !== undefined ? [{ name: 'raft', containerPort: r.ports.raft }] : []),
    { name: 'metrics', containerPort: r.ports.metrics },
  ];
}

function service(role: RoleKind, r: Replica): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: role, labels: labels(role) },
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: labels(role),
      ports: ports(r).map((p) => ({ name: p.name as string, port: p.containerPort as number, targetPort: p.name as string })),
    },
  };
}

function statefulSet(role: RoleKind, replicas: Replica[], o: KubeOptions): Obj {
  const r = replicas[0]!;
  const mounts: Obj[] = [
    { name: 'topology', mountPath: '/etc/nokv', readOnly: true },
    { name: 'token', mountPath: '/etc/nokv-token', readOnly: true },
    ...(r.durable ? [{ name: 'data', mountPath: '/data' }] : []),
  ];
  const probe = (path: string, extra: Obj): Obj => ({ httpGet: { path, port: 'metrics' }, ...extra });
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: role, labels: labels(role) },
    spec: {
      serviceName: role,
      replicas: replicas.length,
      // Raft peers must all start to elect; ordered start would wait for a readiness that needs the others.
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: labels(role) },
      template: {
        metadata: { labels: labels(role) },
        spec: {
          terminationGracePeriodSeconds: 15,
          securityContext: { runAsNonRoot: true, runAsUser: RUN_AS, runAsGroup: RUN_AS, fsGroup: RUN_AS },
          containers: [{
            name: role,
            image: o.image,
            command: ['sh', '-c', startScript(replicas)],
            env: [{ name: 'NOKV_LOG_LEVEL', value: 'info' }],
            ports: ports(r),
            startupProbe: probe(READY_PATH, { periodSeconds: 2, failureThreshold: 60 }),
            readinessProbe: probe(READY_PATH, { periodSeconds: 5, failureThreshold: 3 }),
            livenessProbe: probe(LIVE_PATH, { periodSeconds: 10, failureThreshold: 3 }),
            volumeMounts: mounts,
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          }],
          volumes: [
            { name: 'topology', configMap: { name: CONFIG_MAP } },
            // fsGroup makes the read-only secret readable by the pod's group (0400 becomes 0440, group 1000).
            { name: 'token', secret: { secretName: TOKEN_SECRET, defaultMode: 0o400 } },
          ],
        },
      },
      ...(r.durable
        ? {
            volumeClaimTemplates: [{
              metadata: { name: 'data' },
              spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: o.storage } }, ...(o.storageClass ? { storageClassName: o.storageClass } : {}) },
            }],
          }
        : {}),
    },
  };
}

function disruptionBudget(role: RoleKind): Obj {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: role, labels: labels(role) },
    // One voluntary eviction per role at a time keeps a raft majority (2 of 3) and a standby coordinator.
    spec: { maxUnavailable: 1, selector: { matchLabels: labels(role) } },
  };
}

function mountJob(t: Topology, o: KubeOptions): Obj {
  const endpoints = t.coordinators.map((c, i) => `${podHost('coordinator', i)}:${c.addr.slice(c.addr.lastIndexOf(':') + 1)}`).join(',');
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'nokv-mount-init', labels: labels('coordinator') },
    spec: {
      backoffLimit: 30,
      template: {
        metadata: { labels: { 'app.kubernetes.io/name': 'nokv', 'app.kubernetes.io/component': 'mount-init' } },
        spec: {
          restartPolicy: 'OnFailure',
          securityContext: { runAsNonRoot: true, runAsUser: RUN_AS, runAsGroup: RUN_AS, fsGroup: RUN_AS },
          containers: [{
            name: 'mount-init',
            image: o.image,
            args: ['mount', 'register', '--mount', DEFAULT_MOUNT.mount, '--root-inode', String(DEFAULT_MOUNT.rootInode), '--endpoints', endpoints, '--token-file', PATHS.tokenFile],
            volumeMounts: [{ name: 'token', mountPath: '/etc/nokv-token', readOnly: true }],
          }],
          volumes: [{ name: 'token', secret: { secretName: TOKEN_SECRET, defaultMode: 0o400 } }],
        },
      },
    },
  };
}

/** Every manifest, in apply order. */
export function kubeManifests(t: Topology, o: KubeOptions = DEFAULT_KUBE_OPTIONS): Obj[] {
  const all = replicasOf(t);
  const out: Obj[] = [{
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: CONFIG_MAP, labels: { 'app.kubernetes.io/name': 'nokv' } },
    data: { 'topology.json': `${JSON.stringify(kubeTopology(t), null, 2)}\n` },
  }];
  for (const role of ['meta-root', 'coordinator', 'store', 'fsmeta'] as const) {
    const replicas = all.filter((r) => r.role === role);
    if (replicas.length === 0) continue;
    out.push(service(role, replicas[0]!), statefulSet(role, replicas, o), disruptionBudget(role));
  }
  out.push(mountJob(t, o));
  return out;
}

export const KUBE_HEADER = `# Generated by \`nokv kube\` from docker/topology.docker.json (src/deploy/kubernetes.ts): do not edit by hand;
# \`npm test\` fails when this file and the generator disagree, and validates every object against the
# Kubernetes schemas. Before applying, create the token Secret (docs/deploy.md):
#   kubectl create secret generic ${TOKEN_SECRET} --from-literal=cluster.token="$(openssl rand -hex 24)"
#   kubectl apply -f deploy/kubernetes/nokv.yaml
`;
