/**
 * A benchmark child process: `node child.js <direct|daemon|reference>`. It opens the demo token (the parent
 * has provisioned it and passes P11BRIDGE_HOME), reports `ready` over IPC, then answers the parent's commands:
 * CPU samples, in-process signing runs, CPU profiles, stop. Nothing is written to stdout by this file; the
 * daemon's request log goes to stdout, which the parent points at /dev/null (it is still produced and paid for).
 */
import type { Worker } from 'node:cluster';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { demoFiles } from '../../src/cli/demo';
import { readFileSync } from 'node:fs';
import { withDemoTls, type DemoTlsFiles } from '../../src/cli/demoTls';
import { loadConfigFile } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { kmsSignatureAlgorithm } from '../../src/crypto/algorithms';
import { createLogger, silentLogger } from '../../src/observability/logger';
import { startCluster } from '../../src/cluster/primary';
import { resolveWorkers } from '../../src/cluster/workers';
import { startDaemon } from '../../src/server';
import { TokenManager } from '../../src/token/tokenManager';
import {
  isCommandMessage,
  type BenchCertificate,
  type ChildMessage,
  type ChildRole,
  type Command,
  type CpuSample,
  type DirectRequest,
  type DirectResult,
} from './protocol';
import { createReferenceServer } from './referenceServer';
import { Profiler, cpuSample, sumSamples } from './sampling';
import { LatencyRecorder } from './stats';

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) throw new Error('child.js must be started with an IPC channel (child_process.fork)');
    process.send(message, undefined, undefined, () => resolve());
  });
}

function certificatesOf(token: TokenManager): BenchCertificate[] {
  return token
    .entries()
    .filter((e) => e.certificate !== undefined && !e.isCA)
    .map((e) => ({
      id: e.id,
      keySpec: e.keySpec ?? e.keyType,
      certificatePem: (e.certificate as NonNullable<typeof e.certificate>).toString(),
    }));
}

/** Signs in-process at a fixed concurrency: the token's own limit through our token manager and pool. */
async function runDirect(token: TokenManager, r: DirectRequest): Promise<DirectResult> {
  const alg = kmsSignatureAlgorithm(r.algorithm);
  if (!alg) throw new Error(`unknown algorithm ${r.algorithm}`);
  const subject = { kind: 'message', data: Buffer.from(r.messageBase64, 'base64') } as const;
  let errors = 0;
  let firstError: string | undefined;
  const loop = async (until: number, rec: LatencyRecorder | undefined): Promise<void> => {
    while (performance.now() < until && errors < 1000) {
      const start = performance.now();
      try {
        await token.sign(r.certificateId, alg, subject);
        rec?.record(performance.now() - start);
      } catch (e) {
        errors++;
        firstError ??= e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      }
    }
  };
  const run = async (ms: number, rec?: LatencyRecorder): Promise<void> => {
    const until = performance.now() + ms;
    await Promise.all(Array.from({ length: r.concurrency }, () => loop(until, rec)));
  };
  await run(r.warmupMs);
  const rec = new LatencyRecorder();
  const before = cpuSample();
  const t0 = performance.now();
  await run(r.durationMs, rec);
  const elapsedMs = performance.now() - t0;
  const after = cpuSample();
  return {
    ops: rec.count,
    errors,
    ...(firstError !== undefined ? { firstError } : {}),
    elapsedMs,
    ...rec.summary(),
    before,
    after,
  };
}

interface Running {
  readonly port: number;
  /** The token this process opened (none for a clustered daemon: its workers open their own). */
  readonly token: TokenManager | undefined;
  /** Daemon worker processes (1 when the daemon runs in this process). */
  readonly workers: number;
  /** This server's CPU sample: this process, plus its workers when the daemon is a cluster. */
  sample(): Promise<CpuSample>;
  stop(): Promise<void>;
}

/** Asks a worker (through test/bench/workerHook.ts) for its own sample. */
function workerSample(worker: Worker, seq: number): Promise<CpuSample> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('a daemon worker did not answer a CPU sample')), 5000);
    const onMessage = (m: unknown): void => {
      if (typeof m !== 'object' || m === null || !('bench' in m) || !('seq' in m) || m.seq !== seq) return;
      worker.off('message', onMessage);
      clearTimeout(timer);
      resolve((m as unknown as { sample: CpuSample }).sample);
    };
    worker.on('message', onMessage);
    worker.send({ bench: 'cpu', seq });
  });
}

let sampleSeq = 0;

/** `npm run bench -- --tls`: the parent made the demo TLS files; both servers serve HTTPS with them. */
const tlsFiles: DemoTlsFiles | undefined = process.env.P11BRIDGE_BENCH_TLS
  ? (JSON.parse(process.env.P11BRIDGE_BENCH_TLS) as DemoTlsFiles)
  : undefined;

async function startRole(role: ChildRole, config: Config): Promise<Running> {
  const tokenConfig = config.tokens[0];
  if (!tokenConfig) throw new Error('the demo config has no token');
  if (role === 'daemon') {
    // The daemon exactly as `p11bridge serve` runs it, on an ephemeral loopback port: in this process with one
    // worker, otherwise as a node:cluster primary whose workers also answer CPU samples (workerHook.js).
    const plain: Config = { ...config, server: { ...config.server, host: '127.0.0.1', port: 0 } };
    const listen = tlsFiles ? withDemoTls(plain, tlsFiles) : plain;
    const log = createLogger(config.logging.level);
    const workers = resolveWorkers(listen);
    if (workers > 1) {
      const cluster = await startCluster(listen, log, {
        workers,
        execArgv: [...process.execArgv, '--require', join(__dirname, 'workerHook.js')],
      });
      return {
        port: cluster.port,
        token: undefined,
        workers,
        sample: async () => {
          const seq = ++sampleSeq;
          const own = cpuSample();
          const others = await Promise.all(cluster.workers().map((w) => workerSample(w, seq)));
          // The primary's event loop is idle by design (it accepts connections and answers nonce claims):
          // its CPU counts, its ELU would only dilute the workers'.
          return {
            ...sumSamples([{ ...own, eluIdle: 0, eluActive: 0 }, ...others]),
            primaryUs: own.user + own.system,
          };
        },
        stop: () => cluster.stop().finally(() => log.flush()),
      };
    }
    const daemon = await startDaemon(listen, log);
    const token = daemon.tokens.tokens[0];
    if (!token) throw new Error('the daemon has no token');
    return {
      port: daemon.port,
      token,
      workers: 1,
      sample: () => Promise.resolve(cpuSample()),
      stop: () => daemon.stop().finally(() => log.flush()),
    };
  }
  const token = new TokenManager(tokenConfig, silentLogger());
  await token.open();
  const sample = (): Promise<CpuSample> => Promise.resolve(cpuSample());
  if (role === 'direct') return { port: 0, token, workers: 1, sample, stop: () => token.close() };
  const server = createReferenceServer(
    token,
    tlsFiles
      ? { cert: readFileSync(tlsFiles.certFile, 'utf8'), key: readFileSync(tlsFiles.keyFile, 'utf8') }
      : undefined,
  );
  server.keepAliveTimeout = 65000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    token,
    workers: 1,
    sample,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await token.close();
    },
  };
}

function tokenConfigOf(config: Config): Config['tokens'][number] {
  const t = config.tokens[0];
  if (!t) throw new Error('the demo config has no token');
  return t;
}

async function main(): Promise<void> {
  const role = process.argv[2];
  if (role !== 'direct' && role !== 'daemon' && role !== 'reference') throw new Error(`unknown role ${role ?? ''}`);
  const home = process.env.P11BRIDGE_HOME;
  if (!home) throw new Error('P11BRIDGE_HOME must name the demo home');
  // ensureDemo (run by the parent) wrote this conf; SoftHSM2 reads it at C_Initialize.
  process.env.SOFTHSM2_CONF = join(home, 'softhsm2.conf');
  const config = loadConfigFile(demoFiles(home).config);
  const running = await startRole(role, config);
  const profiler = new Profiler();

  const handle = async (command: Command): Promise<unknown> => {
    switch (command.type) {
      case 'cpu':
        return running.sample();
      case 'direct':
        if (!running.token) throw new Error('direct runs need a token in this process');
        return runDirect(running.token, command.run);
      case 'profile-start':
        if (running.workers > 1)
          throw new Error('a clustered daemon is profiled per worker: run it with P11BRIDGE_WORKERS=1');
        return profiler.start();
      case 'profile-stop':
        return profiler.stop(command.file);
      case 'stop':
        return running.stop();
    }
  };
  process.on('message', (m: unknown) => {
    if (!isCommandMessage(m)) return;
    const { seq, command } = m;
    handle(command).then(
      async (value) => {
        await send({ type: 'reply', seq, ok: true, value: value ?? null });
        if (command.type === 'stop') process.exit(0);
      },
      (e: unknown) =>
        send({ type: 'reply', seq, ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) }),
    );
  });
  // The parent going away (Ctrl-C, crash) must not leave a daemon holding the token.
  process.on('disconnect', () => {
    void running.stop().finally(() => process.exit(0));
  });
  await send({
    type: 'ready',
    port: running.port,
    certificates: running.token ? certificatesOf(running.token) : [],
    poolSize: tokenConfigOf(config).sessions.size,
    workers: running.workers,
    threadpool: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
    logLevel: role === 'daemon' ? config.logging.level : 'none',
  });
}

main().catch((e: unknown) => {
  console.error(`bench child ${process.argv[2] ?? ''} failed:`, e);
  process.exit(1);
});
