// Owns the Docker Compose files, generated from a container topology (docker/topology.docker.json: container
// names as hosts, ports inside the containers). Each role replica is one service with a healthcheck on its
// /readyz; roles start in order, each after the previous role is healthy (service_healthy), mount `default` is
// registered once the coordinators are, and the gateway starts after that. Host ports follow the standard port
// table (defaultTopology) and bind 127.0.0.1. The TLS file is an override that adds certificates and flags.
import { defaultTopology, type Topology } from '../config/topology.js';
import { DEFAULT_MOUNT, READY_PATH, replicasOf, roleCommand, START_ORDER, type Replica, type RolePaths } from './replicas.js';
import type { YamlValue } from './yaml.js';

export const IMAGE = 'nokv-ts:dev';
const BUILD = { context: '..', dockerfile: 'docker/Dockerfile' };
const SHARED = 'nokv-shared';
const PATHS: RolePaths = { config: '/opt/nokv/docker/topology.docker.json', tokenFile: '/shared/cluster.token', dataDir: '/data' };
const TLS_DIR = '/shared/tls';

type Service = Record<string, YamlValue>;

/** The host port for replica i's port of a kind: the standard table's port of the same replica. */
function hostPort(r: Replica, kind: 'grpc' | 'metrics'): number {
  const d = replicasOf(defaultTopology()).filter((x) => x.role === r.role);
  const base = d[Math.min(r.ordinal, d.length - 1)]!;
  return base.ports[kind] + Math.max(0, r.ordinal - (d.length - 1));
}

function healthcheck(r: Replica): Service {
  const probe = `fetch('http://127.0.0.1:${r.ports.metrics}${READY_PATH}').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`;
  return { test: ['CMD', 'node', '-e', probe], interval: '5s', timeout: '3s', retries: 3, start_period: '30s' };
}

/** Each role waits for every replica of the role before it in START_ORDER; the gateway also for mount-init. */
function dependsOn(r: Replica, all: Replica[]): Service {
  const deps: Service = { 'token-init': { condition: 'service_completed_successfully' } };
  const before = START_ORDER[START_ORDER.indexOf(r.role) - 1];
  for (const x of all) if (x.role === before) deps[x.host] = { condition: 'service_healthy' };
  if (r.role === 'fsmeta') deps['mount-init'] = { condition: 'service_completed_successfully' };
  return deps;
}

function roleService(r: Replica, all: Replica[]): Service {
  return {
    image: IMAGE,
    build: BUILD,
    container_name: `nokv-${r.host}`,
    hostname: r.host,
    restart: 'unless-stopped',
    stop_signal: 'SIGTERM',
    stop_grace_period: '10s',
    command: roleCommand(r, PATHS),
    healthcheck: healthcheck(r),
    depends_on: dependsOn(r, all),
    ports: [`127.0.0.1:${hostPort(r, 'grpc')}:${r.ports.grpc}`, `127.0.0.1:${hostPort(r, 'metrics')}:${r.ports.metrics}`],
    volumes: [`${SHARED}:/shared`, ...(r.durable ? [`${r.host}-data:/data`] : [])],
  };
}

const TOKEN_SCRIPT = "const f='/shared/cluster.token',fs=require('fs');if(!fs.existsSync(f))fs.writeFileSync(f,require('crypto').randomBytes(24).toString('hex')+'\\n',{mode:0o600})";

export function composeFile(t: Topology): Record<string, YamlValue> {
  const all = replicasOf(t);
  const coordinators = all.filter((r) => r.role === 'coordinator');
  const services: Record<string, YamlValue> = {
    'token-init': { image: IMAGE, build: BUILD, entrypoint: ['node', '-e', TOKEN_SCRIPT], volumes: [`${SHARED}:/shared`] },
  };
  for (const r of all) services[r.host] = roleService(r, all);
  services['mount-init'] = {
    image: IMAGE,
    restart: 'on-failure',
    command: ['mount', 'register', '--mount', DEFAULT_MOUNT.mount, '--root-inode', String(DEFAULT_MOUNT.rootInode), '--endpoints', coordinators.map((c) => `${c.host}:${c.ports.grpc}`).join(','), '--token-file', PATHS.tokenFile],
    depends_on: { 'token-init': { condition: 'service_completed_successfully' }, ...Object.fromEntries(coordinators.map((c) => [c.host, { condition: 'service_healthy' }])) },
    volumes: [`${SHARED}:/shared`],
  };
  const volumes: Record<string, YamlValue> = { [SHARED]: {} };
  for (const r of all) if (r.durable) volumes[`${r.host}-data`] = {};
  return { services, volumes };
}

/** The override for mutual TLS: tls-init makes the certificates; every role and mount-init use them. */
export function composeTlsOverride(t: Topology): Record<string, YamlValue> {
  const all = replicasOf(t);
  const afterCerts = { 'tls-init': { condition: 'service_completed_successfully' } };
  const services: Record<string, YamlValue> = {
    'tls-init': { image: IMAGE, build: BUILD, command: ['cluster', 'certs', '--data-dir', '/shared', '--config', PATHS.config], volumes: [`${SHARED}:/shared`] },
  };
  for (const r of all) services[r.host] = { command: roleCommand(r, { ...PATHS, tlsDir: TLS_DIR }), depends_on: afterCerts };
  services['mount-init'] = { environment: { NOKV_TLS_DIR: TLS_DIR }, depends_on: afterCerts };
  return { services, volumes: { [SHARED]: {} } };
}

export const COMPOSE_HEADER = `# Generated by \`nokv compose\` from docker/topology.docker.json (src/deploy/compose.ts): do not edit by hand;
# \`npm test\` fails when this file and the generator disagree. The 333 HA topology in containers, the layout
# \`nokv cluster up\` runs as local processes; host ports follow docs/architecture.md and bind 127.0.0.1.
#   docker compose -f docker/docker-compose.yml up -d --build
#   docker stop nokv-coordinator-1      # the lease moves to a standby with a new era
#   docker compose -f docker/docker-compose.yml down -v
# Start order: meta-roots, then coordinators once every meta-root is healthy (/readyz), stores after the
# coordinators, mount-init registers mount "default", then the gateway. Mutual TLS: add -f docker/docker-compose.tls.yml.
`;

export const COMPOSE_TLS_HEADER = `# Generated by \`nokv compose --tls\` (src/deploy/compose.ts): do not edit by hand. Mutual TLS for the compose
# topology: \`docker compose -f docker/docker-compose.yml -f docker/docker-compose.tls.yml up -d\`. tls-init makes
# the cluster CA and one certificate per container in the shared volume (\`nokv cluster certs\`, with the
# image's openssl); every role then serves and calls with its own certificate (--tls-dir/--tls-name), and
# mount-init uses the \`client\` one. docs/security.md has the details.
`;
