/**
 * A benchmark child process: `node child.js <direct|daemon|reference>`. It opens the demo token (the parent
 * has provisioned it and passes P11BRIDGE_HOME), reports `ready` over IPC, then answers the parent's commands:
 * CPU samples, in-process signing runs, CPU profiles, stop. Nothing is written to stdout by this file; the
 * daemon's request log goes to stdout, which the parent points at /dev/null (it is still produced and paid for).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { demoFiles } from '../../src/cli/demo';
import { loadConfigFile } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { kmsSignatureAlgorithm } from '../../src/crypto/algorithms';
import { createLogger, silentLogger } from '../../src/observability/logger';
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
import { LatencyRecorder } from './stats';

/** Sampling interval of the CPU profiler, µs (V8's default is 1000; finer resolves short request-path frames). */
const PROFILE_INTERVAL_US = 100;

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) throw new Error('child.js must be started with an IPC channel (child_process.fork)');
    process.send(message, undefined, undefined, () => resolve());
  });
}

const SCHEDSTAT = `/proc/self/task/${process.pid}/schedstat`;

/** The main thread's CPU time, ns: the first field of its schedstat (`sum_exec_runtime`). */
function mainThreadNs(): number | null {
  try {
    const ns = Number(readFileSync(SCHEDSTAT, 'utf8').split(' ')[0]);
    return Number.isFinite(ns) ? ns : null;
  } catch {
    return null;
  }
}

// GC pauses: a long one shows up as a latency outlier, and the daemon keeps every nonce of the last 31 minutes.
let gcTotalMs = 0;
let gcWindowMaxMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gcTotalMs += e.duration;
    gcWindowMaxMs = Math.max(gcWindowMaxMs, e.duration);
  }
}).observe({ entryTypes: ['gc'] });

function cpuSample(): CpuSample {
  const cpu = process.cpuUsage();
  const elu = performance.eventLoopUtilization();
  const gcMaxMs = gcWindowMaxMs;
  gcWindowMaxMs = 0;
  return {
    user: cpu.user,
    system: cpu.system,
    eluIdle: elu.idle,
    eluActive: elu.active,
    mainThreadNs: mainThreadNs(),
    gcMs: gcTotalMs,
    gcMaxMs,
  };
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

/** The in-process V8 CPU profiler (what `node --cpu-prof` uses), limited to the window the parent chooses. */
class Profiler {
  readonly #session = new Session();
  #started = false;

  async start(): Promise<void> {
    if (!this.#started) this.#session.connect();
    this.#started = true;
    await this.#post('Profiler.enable');
    await this.#post('Profiler.setSamplingInterval', { interval: PROFILE_INTERVAL_US });
    await this.#post('Profiler.start');
  }

  stop(file: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#session.post('Profiler.stop', (err, result) => {
        if (err) return reject(err);
        writeFileSync(file, JSON.stringify(result.profile));
        resolve();
      });
    });
  }

  #post(method: string, params?: object): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#session.post(method, params, (err) => (err ? reject(err) : resolve()));
    });
  }
}

interface Running {
  readonly port: number;
  readonly token: TokenManager;
  stop(): Promise<void>;
}

async function startRole(role: ChildRole, config: Config): Promise<Running> {
  const tokenConfig = config.tokens[0];
  if (!tokenConfig) throw new Error('the demo config has no token');
  if (role === 'daemon') {
    // The daemon exactly as `p11bridge serve` runs it (one process), on an ephemeral loopback port.
    const listen: Config = { ...config, server: { ...config.server, host: '127.0.0.1', port: 0 } };
    const log = createLogger(config.logging.level);
    const daemon = await startDaemon(listen, log);
    const token = daemon.tokens.tokens[0];
    if (!token) throw new Error('the daemon has no token');
    return { port: daemon.port, token, stop: () => daemon.stop().finally(() => log.flush()) };
  }
  const token = new TokenManager(tokenConfig, silentLogger());
  await token.open();
  if (role === 'direct') return { port: 0, token, stop: () => token.close() };
  const server = createReferenceServer(token);
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
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await token.close();
    },
  };
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
        return cpuSample();
      case 'direct':
        return runDirect(running.token, command.run);
      case 'profile-start':
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
    running.stop().finally(() => process.exit(0));
  });
  await send({
    type: 'ready',
    port: running.port,
    certificates: certificatesOf(running.token),
    poolSize: running.token.config.sessions.size,
    threadpool: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
    logLevel: role === 'daemon' ? config.logging.level : 'none',
  });
}

main().catch((e: unknown) => {
  console.error(`bench child ${process.argv[2] ?? ''} failed:`, e);
  process.exit(1);
});
