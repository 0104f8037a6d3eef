/**
 * `npm run bench`: the token's own limit (direct), the daemon and a bare reference server over loopback HTTP
 * with real V3-signed CertificatePrivateKeySign requests (closed loop, autocannon), and both at a fixed rate,
 * for RSA-2048 PKCS#1 v1.5 and ECDSA P-256, in one run on the demo token. See docs/performance.md.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { demoFiles, ensureDemo } from '../../src/cli/demo';
import type { SignedV3Request } from '../helpers/signRequest';
import { RedisServer } from '../helpers/redisServer';
import { BenchChild, cpuDelta } from './children';
import { hostSample, otherLoad } from './hostLoad';
import { closedLoop, fixedRate, probe, signedRequests, useTls, type LoadResult } from './load';
import { ensureDemoTls } from '../../src/cli/demoTls';
import { resolveWorkers, threadpoolSize } from '../../src/cluster/workers';
import { formatProfile, formatProfileDiff, summarizeProfile, type ProfileSummary } from './profile';
import type { BenchCertificate, DirectResult } from './protocol';
import {
  combine,
  deriveCells,
  judge,
  machineInfo,
  textReport,
  writeDoc,
  type AlgorithmLabel,
  type BenchReport,
  type CellKey,
  type Sample,
  type Settings,
  type SweepPoint,
} from './report';

const ALGORITHMS: ReadonlyArray<{ label: AlgorithmLabel; keySpec: string; kms: string }> = [
  { label: 'RSA-2048', keySpec: 'RSA_2048', kms: 'RSA_PKCS1_SHA_256' },
  { label: 'P-256', keySpec: 'EC_P256', kms: 'ECDSA_SHA_256' },
];

type HttpServer = 'reference' | 'daemon';

const HELP = `npm run bench -- [--quick] [--repeat N] [--json] [--write-doc] [--profile] [--tls] [--connections 8,32] [--rate 1000] [--replay memory|redis]
  --quick        2 s cells and a 3 s fixed-rate run (about 1 minute instead of 2-3)
  --repeat N     run every cell N times, interleaved, and report medians (default 1; 3 on a busy machine)
  --json         print the report as one JSON document on stdout (progress goes to stderr)
  --write-doc    rewrite the generated section of docs/performance.md with this run
  --profile      also CPU-profile both servers at the fixed rate (files in dist/bench/profiles/)
  --tls          both servers over HTTPS (the demo certificate, P-256), clients trusting the demo CA
  --connections  closed-loop concurrencies for the HTTP modes (default 8,32)
  --rate         fixed rate in requests/s (default 1000)
  --replay       the daemon's replay store: memory (default) or redis (a redis-server of the bench's own)`;

/** The project root: the nearest directory above this file whose package.json is p11bridge's. */
function projectRoot(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'p11bridge')
      return dir;
  }
  throw new Error('cannot find the p11bridge project root');
}

const progress = (text: string): void => {
  process.stderr.write(`bench: ${text}\n`);
};

const perSecond = (count: number, ms: number): number => (ms > 0 ? count / (ms / 1000) : 0);

/** Collects the repetitions of each cell, in first-measured order. */
class Samples {
  readonly #cells: Array<{ key: CellKey; samples: Sample[] }> = [];

  add(key: CellKey, sample: Sample): void {
    const id = (k: CellKey): string => `${k.mode}|${k.server}|${k.algorithm}|${k.load}`;
    let cell = this.#cells.find((c) => id(c.key) === id(key));
    if (!cell) {
      cell = { key, samples: [] };
      this.#cells.push(cell);
    }
    cell.samples.push(sample);
  }

  combined(): Array<{ key: CellKey; sample: Sample }> {
    return this.#cells.map((c) => ({ key: c.key, sample: combine(c.samples) }));
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      repeat: { type: 'string', default: '1' },
      json: { type: 'boolean', default: false },
      'write-doc': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      tls: { type: 'boolean', default: false },
      connections: { type: 'string', default: '8,32' },
      rate: { type: 'string', default: '1000' },
      replay: { type: 'string', default: 'memory' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const connections = values.connections.split(',').map(Number);
  const rate = Number(values.rate);
  const repeat = Number(values.repeat);
  if (
    connections.some((c) => !Number.isInteger(c) || c < 1) ||
    !(rate > 0) ||
    !Number.isInteger(repeat) ||
    repeat < 1 ||
    (values.replay !== 'memory' && values.replay !== 'redis')
  ) {
    console.error(HELP);
    return 2;
  }
  const quick = values.quick;
  const root = projectRoot();
  const home = resolve(process.env.P11BRIDGE_HOME ?? join(root, '.p11bridge'));

  progress(`demo home ${home}`);
  const config = await ensureDemo(home);
  const files = demoFiles(home);
  const accessKeyId = readFileSync(files.accessKeyId, 'utf8').trim();
  const accessKeySecret = readFileSync(files.accessKeySecret, 'utf8').trim();
  // The same rule as `p11bridge serve`, for every child (and every daemon worker) alike.
  const threadpool = Number(process.env.UV_THREADPOOL_SIZE ?? threadpoolSize(config));
  const env: NodeJS.ProcessEnv = { ...process.env, P11BRIDGE_HOME: home, UV_THREADPOOL_SIZE: String(threadpool) };
  if (values.tls) {
    if (values['write-doc']) {
      console.error('--write-doc rewrites the plain-HTTP tables; record a --tls run by hand (docs/performance.md)');
      return 2;
    }
    const tlsFiles = await ensureDemoTls(home);
    env.P11BRIDGE_BENCH_TLS = JSON.stringify(tlsFiles);
    useTls(readFileSync(tlsFiles.caFile, 'utf8'));
    progress('over HTTPS (--tls): both servers serve the demo certificate');
  }

  // --replay redis: a redis-server of our own on a free port, as the tests start theirs.
  const redis = values.replay === 'redis' ? await RedisServer.start() : undefined;
  if (redis) {
    env.P11BRIDGE_REPLAY_STORE = 'redis';
    env.P11BRIDGE_REDIS_URL = redis.url;
    progress(`replay store: redis-server on port ${redis.port}`);
  }

  const cellS = quick ? 2 : 5;
  const warmS = quick ? 0.5 : 1;
  const settings: Settings = {
    quick,
    repeat,
    cellSeconds: cellS,
    warmupSeconds: warmS,
    connections,
    directConcurrencies: [1, 2, 4, 8, 16],
    rate,
    rateSeconds: quick ? 3 : 10,
    poolSize: config.tokens[0]?.sessions.size ?? 0,
    threadpool,
    // A CPU profile is of one process: with --profile the daemon serves from one (the request path is the same).
    daemonWorkers: values.profile ? 1 : resolveWorkers(config),
    daemonLogLevel: config.logging.level,
    messageBytes: 64,
    replayStore: redis ? 'redis' : 'memory',
  };
  const machine = machineInfo();
  const message = randomBytes(settings.messageBytes);
  const messageBase64 = message.toString('base64');
  const samples = new Samples();
  const sweep: SweepPoint[] = [];
  const profiles: ProfileSummary[] = [];

  // 1. Direct: the token's limit through our TokenManager and pool, in a child of its own.
  const direct = await BenchChild.start('direct', env);
  progress(`direct pid ${direct.pid}`);
  const certs = new Map<AlgorithmLabel, BenchCertificate>();
  for (const a of ALGORITHMS) {
    const cert = direct.ready.certificates.find((c) => c.keySpec === a.keySpec);
    if (!cert) throw new Error(`the demo token has no ${a.keySpec} certificate`);
    certs.set(a.label, cert);
  }
  const certOf = (alg: AlgorithmLabel): BenchCertificate => certs.get(alg) as BenchCertificate;
  try {
    for (const a of ALGORITHMS) {
      const runAt = async (concurrency: number, durationMs: number, warmupMs: number): Promise<DirectResult> => {
        const r = await direct.call<DirectResult>({
          type: 'direct',
          run: {
            certificateId: certOf(a.label).id,
            algorithm: a.kms,
            messageBase64,
            concurrency,
            warmupMs,
            durationMs,
          },
        });
        if (r.errors > 0) throw new Error(`direct ${a.label}: ${r.errors} errors, first: ${r.firstError ?? '?'}`);
        return r;
      };
      // A short sweep finds the concurrency that maximises the token's throughput; full cells measure it.
      let bestC = 1;
      let bestOps = 0;
      for (const c of settings.directConcurrencies) {
        const r = await runAt(c, quick ? 500 : 1000, quick ? 200 : 300);
        const ops = perSecond(r.ops, r.elapsedMs);
        sweep.push({
          algorithm: a.label,
          concurrency: c,
          opsPerSec: ops,
          cpuUsPerReq: cpuDelta(r.before, r.after).cpuUs / Math.max(1, r.ops),
        });
        progress(`direct ${a.label} c=${c}: ${Math.round(ops)} ops/s`);
        if (ops > bestOps) [bestOps, bestC] = [ops, c];
      }
      for (let rep = 0; rep < repeat; rep++) {
        const host0 = hostSample();
        const r = await runAt(bestC, cellS * 1000, warmS * 1000);
        const { cpuUs, mainUs, elu, gcMs, gcMaxMs } = cpuDelta(r.before, r.after);
        // Host load over the whole call, warm-up included (the parent is idle meanwhile).
        const host = otherLoad(host0, hostSample(), cpuUs * ((cellS + warmS) / cellS));
        const sample: Sample = {
          opsPerSec: perSecond(r.ops, r.elapsedMs),
          p50Ms: r.p50Ms,
          p99Ms: r.p99Ms,
          maxMs: r.maxMs,
          cpuUsPerReq: cpuUs / Math.max(1, r.ops),
          jsUsPerReq: mainUs === null ? null : mainUs / Math.max(1, r.ops),
          elu,
          gcMaxMs,
          gcUsPerReq: (gcMs * 1000) / Math.max(1, r.ops),
          ok: r.ops,
          failed: r.errors,
          ...host,
        };
        samples.add({ mode: 'direct', server: 'token', algorithm: a.label, load: `c=${bestC}` }, sample);
        progress(
          `direct ${a.label} c=${bestC}: ${Math.round(sample.opsPerSec)} ops/s, ${sample.cpuUsPerReq.toFixed(0)} µs CPU/op`,
        );
      }
    }
  } finally {
    await direct.stop();
  }

  // 2. HTTP: the reference and the daemon, each in its own process, both up for the whole phase and measured
  //    in alternating order so that a noisy moment does not always hit the same one.
  const reference = await BenchChild.start('reference', env);
  const daemon = await BenchChild.start('daemon', { ...env, P11BRIDGE_WORKERS: String(settings.daemonWorkers) });
  const servers: Record<HttpServer, BenchChild> = { reference, daemon };
  progress(
    `reference pid ${reference.pid} port ${reference.ready.port}; daemon pid ${daemon.pid} port ${daemon.ready.port}`,
  );
  let turn = 0;
  const order = (): HttpServer[] => (turn++ % 2 === 0 ? ['reference', 'daemon'] : ['daemon', 'reference']);
  const requestsFor = (server: HttpServer, a: (typeof ALGORITHMS)[number]): (() => SignedV3Request) =>
    signedRequests({
      port: servers[server].ready.port,
      accessKeyId,
      accessKeySecret,
      certificateId: certOf(a.label).id,
      algorithm: a.kms,
      messageBase64,
    });
  // Requests the daemon answered (warm-ups included): redis-server's CPU is shared out over them.
  let daemonRequests = 0;
  const redisCpu0 = redis?.cpuUs() ?? 0;
  /** Warm-up, then one measured run between two CPU samples of the server. */
  const measure = async (server: HttpServer, run: (warmup: boolean) => Promise<LoadResult>): Promise<Sample> => {
    const child = servers[server];
    const warm = await run(true);
    if (server === 'daemon') daemonRequests += warm.ok + warm.non2xx;
    const before = await child.cpu();
    const host0 = hostSample();
    const r = await run(false);
    const host1 = hostSample();
    const after = await child.cpu();
    const cpu = cpuDelta(before, after);
    if (server === 'daemon') daemonRequests += r.ok + r.non2xx;
    return {
      opsPerSec: perSecond(r.ok, r.elapsedMs),
      p50Ms: r.p50Ms,
      p99Ms: r.p99Ms,
      maxMs: r.maxMs,
      cpuUsPerReq: cpu.cpuUs / Math.max(1, r.ok),
      jsUsPerReq: cpu.mainUs === null ? null : cpu.mainUs / Math.max(1, r.ok),
      elu: cpu.elu,
      gcMaxMs: cpu.gcMaxMs,
      gcUsPerReq: (cpu.gcMs * 1000) / Math.max(1, r.ok),
      ...(cpu.primaryUs !== undefined ? { primaryUsPerReq: cpu.primaryUs / Math.max(1, r.ok) } : {}),
      ok: r.ok,
      failed: r.non2xx + r.errors,
      loadgenCpuUsPerReq: r.loadgenCpuUsPerReq,
      ...(r.maxSendLagMs !== undefined ? { maxSendLagMs: r.maxSendLagMs } : {}),
      ...otherLoad(host0, host1, cpu.cpuUs),
    };
  };

  try {
    for (const a of ALGORITHMS) {
      for (const s of ['reference', 'daemon'] as const) {
        await probe({
          port: servers[s].ready.port,
          next: requestsFor(s, a),
          certificatePem: certOf(a.label).certificatePem,
          message,
        });
      }
    }
    for (let rep = 0; rep < repeat; rep++) {
      for (const a of ALGORITHMS) {
        for (const c of connections) {
          for (const s of order()) {
            const next = requestsFor(s, a);
            const port = servers[s].ready.port;
            const sample = await measure(s, (warmup) =>
              closedLoop({ port, connections: c, durationS: warmup ? warmS : cellS, next }),
            );
            samples.add({ mode: 'http', server: s, algorithm: a.label, load: `c=${c}` }, sample);
            progress(
              `http ${s} ${a.label} c=${c}: ${Math.round(sample.opsPerSec)} ops/s, ${sample.cpuUsPerReq.toFixed(0)} µs CPU/req`,
            );
          }
        }
      }
      for (const a of ALGORITHMS) {
        for (const s of order()) {
          const next = requestsFor(s, a);
          const port = servers[s].ready.port;
          const sample = await measure(s, (warmup) =>
            fixedRate({ port, rate, durationS: warmup ? warmS : settings.rateSeconds, next }),
          );
          samples.add({ mode: 'fixed-rate', server: s, algorithm: a.label, load: `${rate}/s` }, sample);
          progress(`fixed-rate ${s} ${a.label}: p50 ${sample.p50Ms.toFixed(2)} p99 ${sample.p99Ms.toFixed(2)} ms`);
        }
      }
    }

    if (values.profile) {
      // At the fixed rate, not saturated: V8 samples wall time, and on 2 saturated cores the JS thread is often
      // descheduled mid-function, which would charge the scheduler's wait to whatever frame was running.
      const dir = join(root, 'dist', 'bench', 'profiles');
      mkdirSync(dir, { recursive: true });
      for (const a of ALGORITHMS) {
        for (const s of ['daemon', 'reference'] as const) {
          const next = requestsFor(s, a);
          const port = servers[s].ready.port;
          const file = join(dir, `${s}-${a.label}.cpuprofile`);
          await fixedRate({ port, rate, durationS: warmS, next });
          await servers[s].call({ type: 'profile-start' });
          const r = await fixedRate({ port, rate, durationS: settings.rateSeconds, next });
          await servers[s].call({ type: 'profile-stop', file });
          profiles.push(summarizeProfile(file, r.ok, root));
          progress(`profiled ${s} ${a.label} at ${rate}/s: ${r.ok} requests`);
        }
      }
    }
  } finally {
    await Promise.all([reference.stop(), daemon.stop()]);
    if (redis) {
      // Not in the daemon's figures (another process), but on the same cores: reported beside them.
      const us = redis.cpuUs() - redisCpu0;
      progress(
        `redis-server: ${Math.round(us / 1000)} ms CPU over ${daemonRequests} daemon requests, ` +
          `${(us / Math.max(1, daemonRequests)).toFixed(1)} µs per request`,
      );
    }
    await redis?.cleanup();
  }

  const rank = (k: CellKey): number =>
    ['direct', 'http', 'fixed-rate'].indexOf(k.mode) * 1e6 +
    ALGORITHMS.findIndex((a) => a.label === k.algorithm) * 1e5 +
    (k.mode === 'http' ? connections.indexOf(Number(k.load.slice(2))) * 10 : 0) +
    (k.server === 'daemon' ? 1 : 0);
  const cells = deriveCells(samples.combined().sort((x, y) => rank(x.key) - rank(y.key)));
  const report: BenchReport = {
    date: new Date().toISOString(),
    machine,
    settings,
    directSweep: sweep,
    cells,
    verdicts: judge(cells, rate),
    loadAverageAtEnd: loadavg().map((n) => Math.round(n * 100) / 100),
    ...(profiles.length ? { profiles } : {}),
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    console.log(textReport(report));
    for (const p of profiles) console.log(`${formatProfile(basename(p.file), p)}\n`);
    for (const a of ALGORITHMS) {
      const d = profiles.find((p) => basename(p.file) === `daemon-${a.label}.cpuprofile`);
      const r = profiles.find((p) => basename(p.file) === `reference-${a.label}.cpuprofile`);
      if (d && r) console.log(`${formatProfileDiff(a.label, d, r)}\n`);
    }
  }
  if (values['write-doc']) {
    const doc = join(root, 'docs', 'performance.md');
    writeDoc(doc, report);
    progress(`wrote ${doc}`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error('bench failed:', e);
    process.exit(1);
  },
);
