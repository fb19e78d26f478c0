// Owns the cluster's live dashboard: a small HTTP server of the cluster manager (topology `dashboard_addr`)
// serving one self-refreshing page and the JSON it renders (`/api/cluster`: every process with its status and
// what its /debug/vars says, raft leaders and terms, lease holder and era, regions, request rates). The page
// has no dependencies and no build step; it polls the JSON every second.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { trackResource } from '../common/resources.js';
import { parseHostPort } from '../expvar/server.js';

export interface DashboardServer {
  url: string;
  close(): Promise<void>;
}

/** Serves GET / (the page) and GET /api/cluster (state() as JSON); everything else is 404. */
export async function startDashboard(addr: string, state: () => unknown): Promise<DashboardServer> {
  const { host, port } = parseHostPort(addr, 'dashboard address');
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { Allow: 'GET' }).end();
    if (path === '/') return void res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }).end(PAGE);
    if (path === '/api/cluster') {
      const body = JSON.stringify(state(), (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
      return void res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' }).end(body);
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('404 page not found\n');
  });
  server.keepAliveTimeout = 2000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const untrack = trackResource({ kind: 'server', description: `dashboard http ${addr}` });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          untrack();
          resolve();
        });
      }),
  };
}

/** The page: tables filled from /api/cluster every second; ids and data-* attributes name what tests read. */
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>NoKV cluster</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:20px;margin:0 0 .2em}h2{font-size:15px;margin:1.4em 0 .4em}
table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}
th{background:#f4f4f4}.up{color:#080}.down{color:#b00;font-weight:bold}.stale{color:#b60}
.facts span{display:inline-block;margin-right:2em}.facts b{font-size:16px}
#updated{color:#777;font-size:12px}
</style></head><body>
<h1>NoKV cluster</h1><div id="updated">loading…</div>
<h2>Cluster</h2>
<div class="facts">
<span>meta-root leader: <b id="meta-leader">-</b> term <b id="meta-term">-</b></span>
<span>lease holder: <b id="lease-holder">-</b> era <b id="lease-era">-</b></span>
<span>handover: <b id="handover">-</b></span>
<span>regions: <b id="region-count">-</b></span>
<span>requests/s: <b id="total-rate">-</b></span>
</div>
<h2>Processes</h2>
<table><thead><tr><th>name</th><th>status</th><th>pid</th><th>restarts</th><th>address</th><th>state</th><th>req/s</th></tr></thead><tbody id="processes"></tbody></table>
<h2>Regions</h2>
<table><thead><tr><th>region</th><th>raft leader</th><th>term</th></tr></thead><tbody id="regions"></tbody></table>
<h2>Recent changes</h2>
<table><tbody id="changes"></tbody></table>
<script>
const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'})[c]);
const set = (id, v) => { document.getElementById(id).textContent = v; };
async function refresh() {
  try {
    const res = await fetch('api/cluster', { cache: 'no-store' });
    const c = await res.json();
    const v = c.view || { roles: [], regions: [] };
    set('meta-leader', v.metaLeader ? v.metaLeader.name : 'none');
    set('meta-term', v.metaLeader ? v.metaLeader.term : '-');
    set('lease-holder', v.lease && v.lease.holder ? v.lease.holder : 'none');
    set('lease-era', v.lease ? v.lease.era : '-');
    set('handover', v.lease ? v.lease.handover : '-');
    set('region-count', v.regions.length);
    const rates = c.rates || {};
    set('total-rate', Object.values(rates).reduce((a, b) => a + b, 0).toFixed(1));
    const samples = Object.fromEntries(v.roles.map((r) => [r.name, r]));
    document.getElementById('processes').innerHTML = c.processes.map((p) => {
      const s = samples[p.name] || {};
      const cls = p.status !== 'running' ? 'down' : s.up ? 'up' : 'stale';
      const shown = p.status === 'running' && !s.up ? 'not answering' : p.status;
      return '<tr data-name="' + esc(p.name) + '" data-status="' + esc(shown) + '"><td>' + esc(p.name) + '</td><td class="' + cls + '">' + esc(shown) +
        '</td><td>' + esc(p.pid || '-') + '</td><td>' + esc(p.restarts) + '</td><td>' + esc(p.addr) + '</td><td class="state">' + esc(p.status === 'running' ? s.state : '') +
        '</td><td>' + (rates[p.name] === undefined ? '-' : rates[p.name].toFixed(1)) + '</td></tr>';
    }).join('');
    document.getElementById('regions').innerHTML = v.regions.map((g) =>
      '<tr><td>' + g.id + '</td><td>' + esc(g.leader || 'none') + '</td><td>' + g.term + '</td></tr>').join('');
    document.getElementById('changes').innerHTML = (c.changes || []).slice().reverse().map((ch) =>
      '<tr><td>' + esc(new Date(ch.atMs).toLocaleTimeString()) + '</td><td>' + esc(ch.line) + '</td></tr>').join('');
    set('updated', 'updated ' + new Date().toLocaleTimeString() + ' (data dir ' + c.data_dir + ')');
  } catch (e) {
    set('updated', 'cannot reach the cluster manager: ' + e);
  }
}
refresh();
setInterval(refresh, 1000);
</script></body></html>
`;
