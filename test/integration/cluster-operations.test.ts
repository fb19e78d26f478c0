// Operating a cluster as a new user does (issue: "operating the cluster as etcdctl and TiUP users expect"),
// on a second cluster beside the default ports, each numbered problem reproduced and shown fixed:
//   1. client commands reach the running cluster through its data dir, --config, --endpoints or NOKV_*;
//   2. every command takes the same flags and environment, and finds .nokv/ from a subfolder;
//   3. the stop command `up` prints works as printed;
//   4. a busy port is reported before anything starts, in seconds, naming the port and its holder;
//   5. failover is visible: the table is filled in, the manager logs the new holder and era, `tail` hides
//      renewals, and a client against a stopped cluster fails fast in one line;
//   6. /metrics, /healthz, /readyz, grpc.health.v1, `cluster logs`, --json and --version.
// The live dashboard is driven in headless Chromium through a drill (stop the active coordinator).
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { nokvBin } from '../../src/cluster/layout.js';
import { topologyOnPorts } from '../../src/config/topology.js';
import { busyPorts } from '../../src/cluster/preflight.js';
import { HEALTH_SERVICE } from '../../src/transport/grpc/observe.js';
import { createClient, loadProto, unaryCall } from '../../src/transport/index.js';
import { clusterDown, clusterUp, type DrillCluster } from '../fixtures/coordinator-drills.js';
import { freePorts, makeTempDir, waitFor } from '../support/env.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `nokv ARGS` (or a shell line) and never rejects: the exit code is part of what is checked. */
function run(args: string[], opts: { cwd?: string; env?: Record<string, string>; shell?: string } = {}): Promise<Run> {
  const started = Date.now();
  const [file, argv] = opts.shell ? ['/bin/sh', ['-c', opts.shell]] : [process.execPath, [nokvBin(), ...args]];
  return new Promise((resolve) => {
    execFile(file, argv, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, timeout: 60_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr, ms: Date.now() - started });
    });
  });
}

const CHROMIUM = '/usr/bin/chromium';
/** The page's DOM, inside functions that run in the browser (this project compiles without the DOM types). */
declare const document: { getElementById(id: string): { textContent: string | null } | null };

describe('operating a cluster: one way to find it, visible failovers, standard tooling', function () {
  this.timeout(120_000);
  let c: DrillCluster;
  let sub: string;

  before(async function () {
    this.timeout(150_000);
    // Named .nokv so commands find it from a subfolder, as they would the default one.
    c = await clusterUp({ ttl_ms: 2000, renew_before_ms: 700 }, { dataDirName: '.nokv' });
    sub = join(c.root, 'docs', 'deep');
    mkdirSync(sub, { recursive: true });
  });

  after(async function () {
    this.timeout(90_000);
    if (c) await clusterDown(c);
  });

  it('5: `up` prints the filled-in table, the summary and next commands', () => {
    expect(c.upOutput).to.match(/meta-root-\d +running .* (leader|follower) term=\d+/);
    expect(c.upOutput).to.match(/coordinator-\d +running .* ACTIVE holder=coord-\d era=\d+/);
    expect(c.upOutput).to.match(/store-\d +running .* regions=2 leading=/);
    expect(c.upOutput).to.match(/meta-root leader meta-root-\d \(term \d+\) · lease holder coord-\d era \d+ · 2 regions \(1: store-\d, 2: store-\d\)/);
    expect(c.upOutput).to.match(/^dashboard: +http:\/\/127\.0\.0\.1:\d+\/$/m);
    expect(c.upOutput).to.match(/^stop: .* cluster down --data-dir /m);
  });

  it('1+2: client commands reach this cluster through its data dir, a subfolder, --config, --endpoints and NOKV_*', async () => {
    const tsoFromSub = await run(['tso', '--json'], { cwd: sub });
    expect(tsoFromSub.code, tsoFromSub.stderr).to.equal(0);
    expect(c.topo.coordinators.map((x) => x.id)).to.include(JSON.parse(tsoFromSub.stdout).served_by);

    // Tso advances rooted fences, so it needs the token wherever the addresses come from (docs/security.md).
    const viaConfig = await run(['tso', '--config', c.topoFile, '--token-file', c.tokenFile]);
    expect(viaConfig.code, viaConfig.stderr).to.equal(0);
    const viaEnv = await run(['id', 'alloc', '--count', '2'], { env: { NOKV_DATA_DIR: c.dataDir } });
    expect(viaEnv.stdout.trim()).to.match(/^\d+\.\.\d+$/);
    const viaEndpoints = await run(['mount', 'list'], { env: { NOKV_ENDPOINTS: c.coordAddrs.join(','), NOKV_TOKEN_FILE: c.tokenFile } });
    expect(viaEndpoints.stdout).to.match(/^default\t/m);
    const config = await run(['config', 'status', '--json'], { cwd: sub });
    expect(JSON.parse(config.stdout).peers.map((p: { addr: string }) => p.addr)).to.deep.equal(c.topo.meta_root.peers.map((p) => p.addr));

    const status = await run(['cluster', 'status'], { cwd: sub });
    expect(status.code, status.stderr).to.equal(0);
    expect(status.stdout).to.match(/ACTIVE holder=coord-\d era=\d+/);
    // The default ports are not this cluster's: nothing there.
    const elsewhere = await run(['tso', '--data-dir', join(c.root, 'nothing-here')]);
    expect(elsewhere.code).to.equal(1);
    expect(elsewhere.stderr).to.match(/no coordinator answers \(127\.0\.0\.1:2390/);
  });

  it('6: every role serves /metrics, /healthz, /readyz and grpc.health.v1', async () => {
    const roles = [
      { metrics: c.topo.meta_root.peers[0]!.metrics_addr, grpc: c.topo.meta_root.peers[0]!.addr, series: 'nokv_raft_propose_commit_seconds_bucket' },
      { metrics: c.topo.coordinators[0]!.metrics_addr, grpc: c.topo.coordinators[0]!.addr, series: 'nokv_lease_era' },
      { metrics: c.topo.stores[0]!.metrics_addr, grpc: c.topo.stores[0]!.addr, series: 'nokv_store_regions' },
      { metrics: c.topo.fsmeta[0]!.metrics_addr, grpc: c.topo.fsmeta[0]!.addr, series: 'nokv_grpc_server_handling_seconds' },
    ];
    const healthCtor = loadProto('grpc/health/v1/health.proto').clientConstructor(HEALTH_SERVICE);
    for (const r of roles) {
      const text = await (await fetch(`http://${r.metrics}/metrics`)).text();
      expect(text, r.metrics).to.include(r.series);
      expect(text).to.include('nokv_process_cpu_seconds_total');
      expect((await fetch(`http://${r.metrics}/healthz`)).status).to.equal(200);
      const ready = await fetch(`http://${r.metrics}/readyz`);
      expect(ready.status, await ready.text()).to.equal(200);
      const client = createClient(healthCtor, r.grpc);
      try {
        // A store's port carries raft, so its health check needs the token like everything there (docs/security.md).
        const token = r.grpc === c.topo.stores[0]!.addr ? { token: c.token } : {};
        expect((await unaryCall<object, { status: string }>(client, 'Check', { service: '' }, { deadlineMs: 5_000, ...token })).status).to.equal('SERVING');
      } finally {
        client.close();
      }
    }
    const version = await run(['--version', '--json'].slice(0, 1));
    expect(version.stdout).to.match(/^nokv \d+\.\d+\.\d+ \(node v\d+/);
  });

  /** The active coordinator now: its process name, lease holder id and era. */
  async function active(): Promise<{ name: string; holder: string; era: number; dashboard: string }> {
    const st = await waitFor('a sampled lease holder', async () => {
      const s = JSON.parse((await run(['cluster', 'status', '--json', '--data-dir', c.dataDir])).stdout);
      return s.view?.lease?.holder && s.processes.every((p: { status: string }) => p.status === 'running') ? s : null;
    }, 20_000, 300);
    const holder: string = st.view.lease.holder;
    return { name: `coordinator-${c.topo.coordinators.findIndex((x) => x.id === holder) + 1}`, holder, era: st.view.lease.era, dashboard: st.dashboard_url };
  }

  it('5: stopping the active coordinator shows the new holder and era in `cluster logs`; `tail` hides renewals', async () => {
    const before = await active();
    const stopped = await run(['cluster', 'stop', before.name, '--json', '--data-dir', c.dataDir]);
    expect(JSON.parse(stopped.stdout)).to.deep.equal({ name: before.name, result: 'stopped' });
    const line = await waitFor('the lease change in `cluster logs`', async () => {
      const logs = await run(['cluster', 'logs', 'cluster', '--data-dir', c.dataDir]);
      return logs.stdout.split('\n').find((l) => new RegExp(`coordinator lease: coord-\\d holds era \\d+ \\(was ${before.holder} era ${before.era}\\)`).test(l));
    }, 15_000, 300);
    expect(line).to.match(/^cluster \| \S+ INFO +\[cluster\] coordinator lease/);
    const down = (await run(['cluster', 'logs', 'cluster', '--data-dir', c.dataDir])).stdout;
    expect(down).to.include(`${before.name} is down`);

    const tail = (await run(['config', 'tail', '--json', '--kind', 'tenure', '--data-dir', c.dataDir])).stdout.trim().split('\n').map((l) => JSON.parse(l));
    const tenures = tail.flatMap((e: { events: Array<{ kind: string; holder_id: string; era: number }> }) => e.events);
    expect(tenures.every((e) => e.kind === 'tenure')).to.equal(true);
    for (let i = 1; i < tenures.length; i++) expect(`${tenures[i]!.holder_id}/${tenures[i]!.era}`).to.not.equal(`${tenures[i - 1]!.holder_id}/${tenures[i - 1]!.era}`);
    const withRenewals = (await run(['config', 'tail', '--json', '--kind', 'tenure', '--renewals', '--data-dir', c.dataDir])).stdout.trim().split('\n');
    expect(withRenewals.length).to.be.above(tail.length);

    const started = await run(['cluster', 'start', before.name, '--json', '--data-dir', c.dataDir]);
    expect(JSON.parse(started.stdout)).to.deep.equal({ name: before.name, result: 'started' });
  });

  it('dashboard in headless Chromium: the page refreshes itself and a drill (stop the active coordinator) changes it', async function () {
    if (!existsSync(CHROMIUM)) {
      console.log(`      skipped: ${CHROMIUM} is absent (scripts/install-chromium.sh installs Debian's chromium; .ci/run runs it)`);
      this.skip();
    }
    const before = await active();
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    try {
      const page = await browser.newPage();
      await page.goto(before.dashboard);
      await page.waitForFunction((h) => document.getElementById('lease-holder')?.textContent === h, before.holder, { timeout: 15_000 });
      expect(await page.textContent('#lease-era')).to.equal(String(before.era));
      expect(await page.getAttribute(`tr[data-name="${before.name}"]`, 'data-status')).to.equal('running');
      expect(Number(await page.textContent('#region-count'))).to.equal(2);
      expect(await page.textContent('#meta-leader')).to.match(/^meta-root-\d$/);

      await run(['cluster', 'stop', before.name, '--data-dir', c.dataDir]);
      // No reload: the page polls by itself.
      await page.waitForFunction((h) => {
        const now = document.getElementById('lease-holder')?.textContent;
        return !!now && now !== h && now !== 'none';
      }, before.holder, { timeout: 20_000 });
      expect(Number(await page.textContent('#lease-era'))).to.be.above(before.era);
      await page.waitForSelector(`tr[data-name="${before.name}"][data-status="stopped"]`, { timeout: 10_000 });
      await page.waitForFunction((h) => new RegExp(`coordinator lease: coord-\\d holds era \\d+ \\(was ${h}`).test(document.getElementById('changes')?.textContent ?? ''), before.holder, { timeout: 10_000 });

      await run(['cluster', 'start', before.name, '--data-dir', c.dataDir]);
      await page.waitForSelector(`tr[data-name="${before.name}"][data-status="running"]`, { timeout: 20_000 });
    } finally {
      await browser.close();
    }
  });

  it('3+5: the stop command `up` printed works as printed, then a client fails fast in one line', async () => {
    const hint = /^stop: +(.*)$/m.exec(c.upOutput)![1]!.trim();
    const down = await run([], { shell: hint, cwd: process.cwd() });
    expect(down.code, down.stderr).to.equal(0);
    expect(down.stdout).to.match(/^cluster stopped/);
    const status = await run(['cluster', 'status'], { cwd: sub });
    expect(status.code).to.equal(1);
    expect(status.stderr.trim()).to.match(/^nokv cluster status: no cluster is running from .*\.nokv \(found through the nearest \.nokv\/ above this folder\)$/);

    // The CLI's own start-up, measured now, is the baseline: the report may add the probe (at most 1.5 s).
    const startup = (await run(['--version'])).ms;
    const dead = await run(['tso'], { cwd: sub });
    expect(dead.code).to.equal(1);
    expect(dead.stderr.trim().split('\n')).to.have.length(1);
    expect(dead.stderr).to.include(c.coordAddrs[0]);
    expect(dead.stderr).to.match(/is the cluster running\?/);
    expect(dead.stderr).to.not.match(/Resolution note/);
    expect(dead.ms - startup, `a dead cluster is reported within ~2 s of the CLI starting (start-up ${startup} ms)`).to.be.below(2_000);
  });
});

describe('cluster up: pre-flight of every port', function () {
  this.timeout(60_000);

  it('4: a busy port is reported before anything starts, naming the port, its purpose and its holder', async () => {
    const tmp = makeTempDir('nokv-preflight-');
    const ports = await freePorts(23);
    const topo = topologyOnPorts(ports);
    const topoFile = join(tmp.path, 'topology.json');
    writeFileSync(topoFile, JSON.stringify(topo));
    const sockets = new Set<net.Socket>();
    const busy = net.createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    const [host, port] = topo.coordinators[1]!.metrics_addr.split(':');
    await new Promise<void>((resolve) => busy.listen(Number(port), host, () => resolve()));
    try {
      const r = await run(['cluster', 'up', '--detach', '--config', topoFile, '--data-dir', join(tmp.path, 'data')]);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.include(`pid ${process.pid}`);
      expect(r.stderr).to.include(`${topo.coordinators[1]!.metrics_addr} (coordinator-2 metrics)`);
      expect(r.stderr).to.match(/cannot start: 1 port\(s\) of the topology are in use/);
      // Reported before anything starts: no role was spawned, so there was nothing to roll back.
      expect(existsSync(join(tmp.path, 'data', 'processes.json')), 'no role process was spawned').to.equal(false);
      expect(existsSync(join(tmp.path, 'data', 'logs')), 'no role log was opened').to.equal(false);
      // The check itself (every port of the topology, and the holder from /proc) takes well under a second.
      const t0 = performance.now();
      const found = await busyPorts(topo);
      expect(performance.now() - t0).to.be.below(1_000);
      expect(found.map((b) => [b.addr, b.holder?.pid])).to.deep.equal([[topo.coordinators[1]!.metrics_addr, process.pid]]);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => busy.close(r));
      tmp.remove();
    }
  });
});
