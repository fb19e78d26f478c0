// Unary calls on one CallStream against a unary call each (src/transport/grpc/call-stream*.ts), in one run:
//   1. a bare echo between two processes (grpc-js unary vs a message on a bidirectional stream vs the raw TCP
//      round trip under both), with each side's CPU per call — what one process hop costs by itself;
//   2. on a real cluster (`nokv cluster up` on free ports, all ten processes, fsync on), the transactional store
//      client both ways in alternating rounds against the same cluster: one-phase puts (a TSO call and a commit
//      call) and latest-version Gets at 1 and 64 clients, with the bench process's CPU per operation.
// Only the client's side changes between the two ways (the servers serve both); the stores' own calls to the
// coordinators (the leader's TSO for a latest-version read) go on streams in both. Medians of the rounds; never
// fails on timing. Run: node dist/bench/call-stream.bench.js (NOKV_BENCH_ROUNDS, NOKV_BENCH_ROUND_MS).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { connectStoreClient, type CoordinatedStoreClient } from '../src/store/client/connect.js';
import { clusterDown, clusterUp } from '../test/fixtures/coordinator-drills.js';
import { freePorts } from '../test/support/env.js';
import { median, percentile } from './stats.js';

const ROUNDS = Number(process.env.NOKV_BENCH_ROUNDS ?? 4);
const ROUND_MS = Number(process.env.NOKV_BENCH_ROUND_MS ?? 1_500);
const ECHO_CALLS = 3_000;
const id = (b: Buffer) => b;
const ECHO_SERVICE: grpc.ServiceDefinition = {
  Echo: { path: '/bench.Echo/Echo', requestStream: false, responseStream: false, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id },
  Chat: { path: '/bench.Echo/Chat', requestStream: true, responseStream: true, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id },
};

// ---- the echo server (a child process) ----------------------------------------------------------------------

if (process.argv[2] === 'echo-server') {
  const [grpcPort, tcpPort] = [Number(process.argv[3]), Number(process.argv[4])];
  const server = new grpc.Server();
  server.addService(ECHO_SERVICE, {
    Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, call.request),
    Chat: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', (d: Buffer) => call.write(d));
      call.on('end', () => call.end());
    },
  });
  server.bindAsync(`127.0.0.1:${grpcPort}`, grpc.ServerCredentials.createInsecure(), () => {
    createServer((s) => {
      s.setNoDelay(true);
      s.on('data', (d) => s.write(d));
    }).listen(tcpPort, '127.0.0.1', () => process.stdout.write('ready\n'));
  });
  process.on('SIGTERM', () => process.exit(0));
} else {
  await main();
}

interface Measured {
  p50: number;
  p99: number;
  cpuUsPerCall: number;
}

async function timeCalls(n: number, call: () => Promise<unknown>): Promise<Measured> {
  for (let i = 0; i < 200; i++) await call();
  const lat: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await call();
    lat.push(performance.now() - t);
  }
  const cpu = process.cpuUsage(cpu0);
  return { p50: median(lat), p99: percentile(lat, 0.99), cpuUsPerCall: (cpu.user + cpu.system) / n };
}

async function echoRows(): Promise<void> {
  const [grpcPort, tcpPort] = await freePorts(2);
  const child: ChildProcess = spawn(process.execPath, [fileURLToPath(import.meta.url), 'echo-server', String(grpcPort), String(tcpPort)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d) => String(d).includes('ready') && resolve());
      child.once('exit', (code) => reject(new Error(`echo server exited ${code}`)));
    });
    const client = new grpc.Client(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
    const payload = Buffer.alloc(64, 1);
    const unary = () => new Promise((res, rej) => client.makeUnaryRequest(ECHO_SERVICE.Echo!.path, id, id, payload, (e, r) => (e ? rej(e) : res(r))));
    const chat = client.makeBidiStreamRequest(ECHO_SERVICE.Chat!.path, id, id);
    let answer: (() => void) | undefined;
    chat.on('data', () => answer?.());
    chat.on('error', () => {}); // cancelled when the server stops
    const streamed = () => new Promise<void>((res) => {
      answer = res;
      chat.write(payload);
    });
    const sock: Socket = connect(tcpPort, '127.0.0.1');
    sock.setNoDelay(true);
    await new Promise((r) => sock.once('connect', r));
    let tcpAnswer: (() => void) | undefined;
    sock.on('data', () => tcpAnswer?.());
    const tcp = () => new Promise<void>((res) => {
      tcpAnswer = res;
      sock.write(payload);
    });
    const results: Record<string, Measured[]> = { 'grpc-js unary call': [], 'message on a bidi stream': [], 'raw TCP round trip': [] };
    for (let r = 0; r < ROUNDS; r++) {
      results['grpc-js unary call']!.push(await timeCalls(ECHO_CALLS, unary));
      results['message on a bidi stream']!.push(await timeCalls(ECHO_CALLS, streamed));
      results['raw TCP round trip']!.push(await timeCalls(ECHO_CALLS, tcp));
    }
    chat.cancel();
    sock.destroy();
    client.close();
    process.stdout.write(`\nEcho between two processes, 64-byte payload, one call at a time, ${ROUNDS} rounds x ${ECHO_CALLS} calls (medians)\n`);
    process.stdout.write(`${'way'.padEnd(28)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'client CPU µs/call'.padStart(19)}\n`);
    for (const [way, ms] of Object.entries(results)) {
      process.stdout.write(`${way.padEnd(28)} ${median(ms.map((m) => m.p50)).toFixed(3).padStart(8)} ${median(ms.map((m) => m.p99)).toFixed(3).padStart(8)} ${median(ms.map((m) => m.cpuUsPerCall)).toFixed(0).padStart(19)}\n`);
    }
  } finally {
    child.kill('SIGTERM');
  }
}

interface Round {
  lat: number[];
  ops: number;
  errors: number;
  cpuUs: number;
}

async function closedLoop(conc: number, ms: number, op: (w: number, n: number) => Promise<unknown>): Promise<Round> {
  const lat: number[] = [];
  let errors = 0;
  let n = 0;
  const deadline = performance.now() + ms;
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: conc }, async (_, w) => {
      while (performance.now() < deadline) {
        const s = performance.now();
        try {
          await op(w, n++);
          lat.push(performance.now() - s);
        } catch {
          errors++;
        }
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  return { lat, ops: lat.length, errors, cpuUs: cpu.user + cpu.system };
}

async function clusterRows(): Promise<void> {
  const cluster = await clusterUp({ ttl_ms: 3000, renew_before_ms: 1000 });
  const token = readFileSync(cluster.tokenFile, 'utf8').trim();
  const ways: Record<'unary' | 'stream', CoordinatedStoreClient> = {
    unary: connectStoreClient({ coordinatorAddrs: cluster.coordAddrs, token, callStream: false }),
    stream: connectStoreClient({ coordinatorAddrs: cluster.coordAddrs, token, callStream: true }),
  };
  try {
    const value = Buffer.alloc(256, 7);
    const ops: Array<{ name: string; conc: number; op: (c: CoordinatedStoreClient) => (w: number, n: number) => Promise<unknown> }> = [
      { name: 'one-phase put', conc: 1, op: (c) => async (w, n) => { const t = await c.begin(); t.put(Buffer.from(`n/${w}/${n % 1024}`), value); await t.commit(); } },
      { name: 'one-phase put', conc: 64, op: (c) => async (w, n) => { const t = await c.begin(); t.put(Buffer.from(`n/${w}/${n % 1024}`), value); await t.commit(); } },
      { name: 'Get, latest version', conc: 1, op: (c) => (w, n) => c.getLatest(Buffer.from(`n/${w}/${n % 64}`)) },
      { name: 'Get, latest version', conc: 64, op: (c) => (w, n) => c.getLatest(Buffer.from(`n/${w % 8}/${n % 64}`)) },
    ];
    process.stdout.write(`\nStore client on a real cluster, 256-byte values, ${ROUNDS} alternating rounds x ${ROUND_MS} ms per way (medians of rounds)\n`);
    process.stdout.write(`${'op'.padEnd(22)} ${'clients'.padStart(7)} ${'unary p50'.padStart(10)} ${'stream p50'.padStart(10)} ${'p50 ratio'.padStart(9)} ${'unary ops/s'.padStart(11)} ${'stream ops/s'.padStart(12)} ${'ops ratio'.padStart(9)} ${'CPU µs/op u/s'.padStart(14)} errors\n`);
    for (const o of ops) {
      for (const c of Object.values(ways)) await closedLoop(o.conc, 500, o.op(c)); // warm both
      const per: Record<'unary' | 'stream', Round[]> = { unary: [], stream: [] };
      for (let r = 0; r < ROUNDS; r++) {
        const order: Array<'unary' | 'stream'> = r % 2 === 0 ? ['unary', 'stream'] : ['stream', 'unary'];
        for (const way of order) per[way].push(await closedLoop(o.conc, ROUND_MS, o.op(ways[way])));
      }
      const p50 = (way: 'unary' | 'stream') => median(per[way].map((r) => median(r.lat)));
      const opsPerSec = (way: 'unary' | 'stream') => median(per[way].map((r) => (r.ops / ROUND_MS) * 1000));
      const cpu = (way: 'unary' | 'stream') => median(per[way].map((r) => r.cpuUs / Math.max(1, r.ops)));
      const errors = (way: 'unary' | 'stream') => per[way].reduce((a, r) => a + r.errors, 0);
      process.stdout.write(
        `${o.name.padEnd(22)} ${String(o.conc).padStart(7)} ${p50('unary').toFixed(2).padStart(10)} ${p50('stream').toFixed(2).padStart(10)} ${(p50('unary') / p50('stream')).toFixed(2).padStart(8)}x ` +
          `${opsPerSec('unary').toFixed(0).padStart(11)} ${opsPerSec('stream').toFixed(0).padStart(12)} ${(opsPerSec('stream') / opsPerSec('unary')).toFixed(2).padStart(8)}x ` +
          `${`${cpu('unary').toFixed(0)}/${cpu('stream').toFixed(0)}`.padStart(14)} ${errors('unary')}/${errors('stream')}\n`,
      );
    }
  } finally {
    for (const c of Object.values(ways)) c.close();
    await clusterDown(cluster);
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const load0 = loadavg()[0]!.toFixed(1);
  await echoRows();
  await clusterRows();
  process.stdout.write(`\n(${((Date.now() - started) / 1000).toFixed(1)} s; node ${process.version}; load average ${load0} before, ${loadavg().map((l) => l.toFixed(1)).join(' ')} after)\n`);
  process.exit(0);
}
