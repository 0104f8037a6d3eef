/**
 * `npm run bench`: the token's own limit (direct), the daemon and a bare reference server over loopback HTTP
 * with real V3-signed CertificatePrivateKeySign requests (closed loop, autocannon), and both at a fixed rate,
 * for RSA-2048 PKCS#1 v1.5 and ECDSA P-256, in one run on the demo token. See docs/performance.md.
 *
 * Options: --quick (2 s cells), --json (one JSON document on stdout), --write-doc (rewrite the table in
 * docs/performance.md), --profile (CPU-profile the daemon and the reference under load and summarise),
 * --connections 8,32 (closed-loop concurrencies), --rate 1000 (fixed rate, req/s).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { demoFiles, ensureDemo } from '../../src/cli/demo';
import { BenchChild, cpuDelta, type CpuDelta } from './children';
import { hostSample, otherLoad } from './hostLoad';
import { closedLoop, fixedRate, probe, signedRequests, type LoadResult } from './load';
import { formatProfile, formatProfileDiff, summarizeProfile, type ProfileSummary } from './profile';
import type { BenchCertificate, DirectResult } from './protocol';
import {
  judge,
  machineInfo,
  textReport,
  writeDoc,
  type AlgorithmLabel,
  type BenchReport,
  type Cell,
  type Settings,
  type SweepPoint,
} from './report';

const ALGORITHMS: ReadonlyArray<{ label: AlgorithmLabel; keySpec: string; kms: string }> = [
  { label: 'RSA-2048', keySpec: 'RSA_2048', kms: 'RSA_PKCS1_SHA_256' },
  { label: 'P-256', keySpec: 'EC_P256', kms: 'ECDSA_SHA_256' },
];

const HELP = `npm run bench -- [--quick] [--json] [--write-doc] [--profile] [--connections 8,32] [--rate 1000]
  --quick        2 s cells and a 3 s fixed-rate run (about 1 minute instead of 2-3)
  --json         print the report as one JSON document on stdout (progress goes to stderr)
  --write-doc    rewrite the generated section of docs/performance.md with this run
  --profile      also CPU-profile the daemon and the reference under load (files in dist/bench/profiles/)
  --connections  closed-loop concurrencies for the HTTP modes (default 8,32)
  --rate         fixed rate in requests/s (default 1000)`;

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

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      'write-doc': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      connections: { type: 'string', default: '8,32' },
      rate: { type: 'string', default: '1000' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const connections = values.connections.split(',').map(Number);
  const rate = Number(values.rate);
  if (connections.some((c) => !Number.isInteger(c) || c < 1) || !(rate > 0)) {
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
  // The same rule as `p11bridge serve` (src/cli/index.ts sizeThreadpool), for every child alike.
  const sessions = config.tokens.reduce((n, t) => n + t.sessions.size, 0);
  const threadpool = Number(process.env.UV_THREADPOOL_SIZE ?? Math.max(2, Math.min(sessions, 64)));
  const env: NodeJS.ProcessEnv = { ...process.env, P11BRIDGE_HOME: home, UV_THREADPOOL_SIZE: String(threadpool) };

  const cellS = quick ? 2 : 5;
  const warmS = quick ? 0.5 : 1;
  const settings: Settings = {
    quick,
    cellSeconds: cellS,
    warmupSeconds: warmS,
    connections,
    directConcurrencies: [1, 2, 4, 8, 16],
    rate,
    rateSeconds: quick ? 3 : 10,
    poolSize: config.tokens[0]?.sessions.size ?? 0,
    threadpool,
    daemonLogLevel: config.logging.level,
    messageBytes: 64,
  };
  const machine = machineInfo();
  const message = randomBytes(settings.messageBytes);
  const messageBase64 = message.toString('base64');
  const cells: Cell[] = [];
  const sweep: SweepPoint[] = [];
  const directBest = new Map<AlgorithmLabel, Cell>();
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
  try {
    for (const a of ALGORITHMS) {
      const cert = certs.get(a.label) as BenchCertificate;
      const runAt = (concurrency: number, durationMs: number, warmupMs: number): Promise<DirectResult> =>
        direct.call<DirectResult>({
          type: 'direct',
          run: { certificateId: cert.id, algorithm: a.kms, messageBase64, concurrency, warmupMs, durationMs },
        });
      let bestC = 1;
      let bestOps = 0;
      for (const c of settings.directConcurrencies) {
        const r = await runAt(c, quick ? 500 : 1000, quick ? 200 : 300);
        if (r.errors > 0) throw new Error(`direct ${a.label}: ${r.errors} errors, first: ${r.firstError ?? '?'}`);
        const ops = r.ops / (r.elapsedMs / 1000);
        sweep.push({
          algorithm: a.label,
          concurrency: c,
          opsPerSec: ops,
          cpuUsPerReq: cpuDelta(r.before, r.after).cpuUs / Math.max(1, r.ops),
        });
        progress(`direct ${a.label} c=${c}: ${Math.round(ops)} ops/s`);
        if (ops > bestOps) [bestOps, bestC] = [ops, c];
      }
      const host0 = hostSample();
      const r = await runAt(bestC, cellS * 1000, warmS * 1000);
      const { cpuUs, mainUs, elu } = cpuDelta(r.before, r.after);
      // Host load over the call (warm-up included): the parent is idle meanwhile.
      const host = otherLoad(host0, hostSample(), cpuUs * ((cellS + warmS) / cellS));
      const cell: Cell = {
        mode: 'direct',
        server: 'token',
        algorithm: a.label,
        load: `c=${bestC}`,
        opsPerSec: r.ops / (r.elapsedMs / 1000),
        p50Ms: r.p50Ms,
        p99Ms: r.p99Ms,
        maxMs: r.maxMs,
        cpuUsPerReq: cpuUs / Math.max(1, r.ops),
        beyondTokenUsPerReq: null,
        jsUsPerReq: mainUs === null ? null : mainUs / Math.max(1, r.ops),
        jsBeyondTokenUsPerReq: null,
        elu,
        vsDirect: 1,
        vsReference: null,
        ok: r.ops,
        failed: r.errors,
        ...host,
      };
      progress(
        `direct ${a.label} best c=${bestC}: ${Math.round(cell.opsPerSec)} ops/s, ${cell.cpuUsPerReq.toFixed(0)} µs CPU/op`,
      );
      directBest.set(a.label, cell);
      cells.push(cell);
    }
  } finally {
    await direct.stop();
  }

  // 2. HTTP: the reference and the daemon, each in its own process, both up for the whole phase and measured
  //    in alternating order so that a noisy moment does not always hit the same one.
  const reference = await BenchChild.start('reference', env);
  const daemon = await BenchChild.start('daemon', env);
  const servers = { reference, daemon } as const;
  progress(`reference pid ${reference.pid} port ${reference.ready.port}; daemon pid ${daemon.pid} port ${daemon.ready.port}`);
  try {
    const makeCell = (
      mode: 'http' | 'fixed-rate',
      server: 'reference' | 'daemon',
      alg: AlgorithmLabel,
      load: string,
      r: LoadResult,
      cpu: CpuDelta,
      host: { otherCpuPct: number; stealPct: number } | undefined,
    ): Cell => {
      const base = directBest.get(alg);
      const opsPerSec = r.ok / (r.elapsedMs / 1000);
      const cpuUsPerReq = cpu.cpuUs / Math.max(1, r.ok);
      const jsUsPerReq = cpu.mainUs === null ? null : cpu.mainUs / Math.max(1, r.ok);
      return {
        mode,
        server,
        algorithm: alg,
        load,
        opsPerSec,
        p50Ms: r.p50Ms,
        p99Ms: r.p99Ms,
        maxMs: r.maxMs,
        cpuUsPerReq,
        beyondTokenUsPerReq: base ? cpuUsPerReq - base.cpuUsPerReq : null,
        jsUsPerReq,
        jsBeyondTokenUsPerReq: base?.jsUsPerReq != null && jsUsPerReq !== null ? jsUsPerReq - base.jsUsPerReq : null,
        elu: cpu.elu,
        vsDirect: mode === 'http' && base ? opsPerSec / base.opsPerSec : null,
        vsReference: null,
        ok: r.ok,
        failed: r.non2xx + r.errors,
        loadgenCpuUsPerReq: r.loadgenCpuUsPerReq,
        ...(r.maxSendLagMs !== undefined ? { maxSendLagMs: r.maxSendLagMs } : {}),
        ...host,
      };
    };
    const measure = async (
      server: 'reference' | 'daemon',
      run: (warmup: boolean) => Promise<LoadResult>,
    ): Promise<{ r: LoadResult; cpu: CpuDelta; host: ReturnType<typeof otherLoad> }> => {
      const child = servers[server];
      await run(true);
      const before = await child.cpu();
      const host0 = hostSample();
      const r = await run(false);
      const host1 = hostSample();
      const after = await child.cpu();
      const cpu = cpuDelta(before, after);
      return { r, cpu, host: otherLoad(host0, host1, cpu.cpuUs) };
    };
    const order = (i: number): Array<'reference' | 'daemon'> =>
      i % 2 === 0 ? ['reference', 'daemon'] : ['daemon', 'reference'];
    const requestsFor = (server: 'reference' | 'daemon', a: (typeof ALGORITHMS)[number]) =>
      signedRequests({
        port: servers[server].ready.port,
        accessKeyId,
        accessKeySecret,
        certificateId: (certs.get(a.label) as BenchCertificate).id,
        algorithm: a.kms,
        messageBase64,
      });

    let turn = 0;
    for (const a of ALGORITHMS) {
      const cert = certs.get(a.label) as BenchCertificate;
      for (const s of ['reference', 'daemon'] as const) {
        await probe({
          port: servers[s].ready.port,
          next: requestsFor(s, a),
          certificatePem: cert.certificatePem,
          message,
        });
      }
      for (const c of connections) {
        const pair: Partial<Record<'reference' | 'daemon', Cell>> = {};
        for (const s of order(turn++)) {
          const next = requestsFor(s, a);
          const { r, cpu, host } = await measure(s, (warmup) =>
            closedLoop({ port: servers[s].ready.port, connections: c, durationS: warmup ? warmS : cellS, next }),
          );
          pair[s] = makeCell('http', s, a.label, `c=${c}`, r, cpu, host);
          progress(
            `http ${s} ${a.label} c=${c}: ${Math.round(pair[s].opsPerSec)} ops/s, ${pair[s].cpuUsPerReq.toFixed(0)} µs CPU/req`,
          );
        }
        const ref = pair.reference as Cell;
        const dmn = pair.daemon as Cell;
        cells.push(ref, { ...dmn, vsReference: ref.opsPerSec > 0 ? dmn.opsPerSec / ref.opsPerSec : null });
      }
    }
    for (const a of ALGORITHMS) {
      const pair: Partial<Record<'reference' | 'daemon', Cell>> = {};
      for (const s of order(turn++)) {
        const next = requestsFor(s, a);
        const { r, cpu, host } = await measure(s, (warmup) =>
          fixedRate({ port: servers[s].ready.port, rate, durationS: warmup ? warmS : settings.rateSeconds, next }),
        );
        pair[s] = makeCell('fixed-rate', s, a.label, `${rate}/s`, r, cpu, host);
        progress(`fixed-rate ${s} ${a.label}: p50 ${pair[s].p50Ms.toFixed(2)} p99 ${pair[s].p99Ms.toFixed(2)} ms`);
      }
      cells.push(pair.reference as Cell, pair.daemon as Cell);
    }

    if (values.profile) {
      // At the fixed rate, not saturated: V8 samples wall time, and on 2 saturated cores the JS thread is often
      // descheduled mid-function, which would charge the scheduler's wait to whatever frame was running.
      const dir = join(root, 'dist', 'bench', 'profiles');
      mkdirSync(dir, { recursive: true });
      for (const a of ALGORITHMS) {
        for (const s of ['daemon', 'reference'] as const) {
          const next = requestsFor(s, a);
          const file = join(dir, `${s}-${a.label}.cpuprofile`);
          await fixedRate({ port: servers[s].ready.port, rate, durationS: warmS, next });
          await servers[s].call({ type: 'profile-start' });
          const r = await fixedRate({ port: servers[s].ready.port, rate, durationS: settings.rateSeconds, next });
          await servers[s].call({ type: 'profile-stop', file });
          profiles.push(summarizeProfile(file, r.ok, root));
          progress(`profiled ${s} ${a.label} at ${rate}/s: ${r.ok} requests`);
        }
      }
    }
  } finally {
    await Promise.all([reference.stop(), daemon.stop()]);
  }

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
