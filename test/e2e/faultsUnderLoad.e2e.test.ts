/**
 * Issue 12, "Tests that must exist": the daemon as an operator runs it (`p11bridge serve`, two worker processes,
 * built CLI) under a steady load of signed signing requests, while the token misbehaves the way real HSMs do.
 * The token is a throwaway SoftHSM2 token behind the fault token (softhsm/fault-token: a PKCS#11 TEST DOUBLE that
 * forwards to SoftHSM2 and injects what this test writes into its control file). Every 200 carries a signature
 * verified here with node:crypto against the certificate read straight from the token (pkcs11js, not the daemon).
 *
 * For each fault: every failed request gets the documented answer (503 ServiceUnavailableTemporary for KMS,
 * ServiceUnavailable for CAS) within the deadline plus a margin, or — only on a connection of a worker the test
 * killed or stopped — a reset; no worker dies unless the test kills it; the daemon serves again within 5 s of the
 * fault clearing. The measured numbers are printed (console.log) for the issue's closing note.
 *
 * The tests share one daemon and run in order: the re-initialisation underneath (which replaces every key) last.
 */
import { execFile } from 'node:child_process';
import { randomBytes, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import * as pkcs11 from 'pkcs11js';
import { stringify } from 'yaml';
import { METADATA_APPLICATION } from '../../src/token/metadata';
import { DirectToken, find, type TokenPublicKey } from '../helpers/directToken';
import { createFaultControl, faultTokenModule, type FaultControl } from '../helpers/faultToken';
import { CLI, ServeProcess } from '../helpers/serveProcess';
import {
  quantile,
  sigVerifies,
  startSigningLoad,
  type LoadStream,
  type RunningLoad,
  type Sample,
} from '../helpers/signingLoad';
import { createTestToken, provisionTestToken, type TestToken } from '../helpers/token';

const ACCESS_KEY_ID = 'LTAI5tFAULTLOAD00001';
const ACCESS_KEY_SECRET = randomBytes(15).toString('hex');
/** timeouts.operationMs of the token: a hung call is answered with 503 after this. */
const OPERATION_MS = 1000;
/** What a refusal may take beyond its deadline on a shared, loaded 2-core machine. */
const MARGIN_MS = 1500;
/** The daemon must serve again this soon after a fault clears (issue 12). */
const RECOVERY_MS = 5000;
const HEARTBEAT_TIMEOUT_MS = 2000;
const RATE_PER_STREAM = 40;
const UNAVAILABLE: Record<LoadStream['product'], string> = {
  kms: 'ServiceUnavailableTemporary',
  cas: 'ServiceUnavailable',
};

/** One identity set of the demo (provisionDemo): a CA and two signing leaves. */
interface Identities {
  ca: string;
  rsa: string;
  ec: string;
}

async function provisionSet(t: TestToken): Promise<Identities> {
  const p = await provisionTestToken(t);
  const rsa = p.leaves.find((l) => l.keySpec === 'RSA_2048');
  const ec = p.leaves.find((l) => l.keySpec === 'EC_P256');
  if (!rsa || !ec) throw new Error('the demo key set has no RSA-2048 or no EC P-256 leaf');
  return { ca: p.ca.id, rsa: rsa.id, ec: ec.id };
}

/** A GET on a new connection (so that the primary's round-robin spreads them over both workers). */
function get(port: number, path: string): Promise<{ status: number; body: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - t0 }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

interface Readiness {
  status: number;
  tokens: Array<{ ready: boolean; state: string; reason?: string }>;
}

async function readyz(port: number): Promise<Readiness> {
  const r = await get(port, '/readyz');
  return { status: r.status, tokens: (JSON.parse(r.body) as Readiness).tokens };
}

/** Polls until `cond` holds; resolves with the time it took, throws after `ms`. */
async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<number> {
  const t0 = performance.now();
  while (!(await cond())) {
    if (performance.now() - t0 > ms) throw new Error(`not ${what} within ${ms} ms`);
    await delay(50);
  }
  return performance.now() - t0;
}

/** GET /healthz every `everyMs` until stopped; resolves with each latency. */
function pollHealthz(port: number, everyMs: number): { stop(): Promise<number[]> } {
  let running = true;
  const latencies: number[] = [];
  const failures: string[] = [];
  const done = (async () => {
    while (running) {
      const t0 = performance.now();
      try {
        const r = await get(port, '/healthz');
        if (r.status === 200) latencies.push(r.ms);
        else failures.push(`status ${r.status}`);
      } catch (e) {
        failures.push((e as Error).message);
      }
      const wait = everyMs - (performance.now() - t0);
      if (wait > 0) await delay(wait);
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      expect(failures).toEqual([]);
      return latencies;
    },
  };
}

const fmt = (ms: number): string => `${Math.round(ms)} ms`;

describe('faults under load: `p11bridge serve` (2 workers) on a SoftHSM2 token behind the fault token', () => {
  let t: TestToken;
  let work: string;
  let fault: FaultControl;
  let direct: DirectToken;
  let serve: ServeProcess;
  let port: number;
  let config: string;
  let pin: string;
  let set1: Identities;
  let set2: Identities;
  let streams: LoadStream[];
  /** Public keys each identity's signatures may verify with: [the provisioned one, then a re-provisioned one]. */
  const keys = new Map<string, KeyObject[]>();
  const stopped = new Set<number>();
  const cliEnv = (): NodeJS.ProcessEnv => ({ ...process.env, ...fault.env });

  /** The load of the test running now: a test that fails before stopping it must not leave it sending. */
  let current: RunningLoad | undefined;
  let currentHealth: { stop(): Promise<number[]> } | undefined;
  const startLoad = (): RunningLoad =>
    (current = startSigningLoad({
      port,
      accessKeyId: ACCESS_KEY_ID,
      secret: ACCESS_KEY_SECRET,
      streams,
      ratePerStream: RATE_PER_STREAM,
      keys: (id) => keys.get(id) ?? [],
    }));

  /**
   * A command run asynchronously: the load keeps sending and reading meanwhile. (A spawnSync blocked this process's
   * event loop, the load's client, for as long as the command ran: requests in flight were measured as that much
   * slower, and no request was sent while another process re-provisioned the token.)
   */
  const run = (file: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> =>
    new Promise((resolve, reject) => {
      execFile(file, args, { env, encoding: 'utf8' }, (err, _stdout, stderr) => {
        if (err) reject(new Error(`${file} ${args.join(' ')}: ${err.message}: ${stderr}`));
        else resolve();
      });
    });
  const cli = (args: string[]): Promise<void> => run('node', [CLI, ...args, '--config', config], cliEnv());

  /**
   * A read of the token straight from this process (DirectToken), tried again a little later when it fails: with
   * other processes writing and logging in, SoftHSM2 2.6.1 rewrites its token file in place at every C_Login, and a
   * reader that opens the token then sees no such token or misses objects for a moment (measured: a reader
   * initialising and counting objects in a loop beside a process logging in found no token in 13 of 2,225 reads).
   */
  const readDirect = async <T>(what: string, read: () => T): Promise<T> => {
    // Up to ~4.5 s in all: once, under a full suite's load, a certificate was missed by three reads 200 ms apart.
    for (let attempt = 1; ; attempt++) {
      try {
        return read();
      } catch (e) {
        if (attempt >= 6) {
          const labels = direct.use(t.label, pin, (lib, session) => direct.certificateLabels(lib, session));
          throw new Error(`${(e as Error).message} (certificates on the token now: ${labels.join(', ')})`);
        }
        console.warn(`direct token read (${what}) failed, tried again: ${(e as Error).message}`);
        await delay(150 * attempt);
      }
    }
  };

  /**
   * The rules every fault shares: a 200 verifies; a failed request is the documented 503 (or one of `also`)
   * within the deadline plus margin; a network error only where `resetOk` allows it (a killed worker).
   */
  const judge = (
    samples: readonly Sample[],
    opts: { also?: (s: Sample) => boolean; resetOk?: (s: Sample) => boolean; slowOk?: (s: Sample) => boolean } = {},
  ): { refusals: Sample[]; resets: Sample[] } => {
    const problems: string[] = [];
    const refusals: Sample[] = [];
    const resets: Sample[] = [];
    for (const s of samples) {
      const stream = streams[s.stream] as LoadStream;
      const ms = s.end - s.start;
      const what = `stream ${s.stream} (${stream.product} ${stream.algorithm}) at ${fmt(s.start)}`;
      if (s.error !== undefined) {
        resets.push(s);
        if (!opts.resetOk?.(s)) problems.push(`${what}: network error ${s.error} after ${fmt(ms)}`);
        continue;
      }
      if (ms > OPERATION_MS + MARGIN_MS && !opts.slowOk?.(s))
        problems.push(`${what}: answered ${s.status} ${s.code ?? ''} after ${fmt(ms)}`);
      if (s.status === 200) {
        if (s.verifiedBy === undefined || s.verifiedBy < 0) problems.push(`${what}: a 200 whose signature fails`);
        continue;
      }
      refusals.push(s);
      const documented = s.status === 503 && s.code === UNAVAILABLE[stream.product];
      if (!documented && !opts.also?.(s)) problems.push(`${what}: ${s.status} ${s.code ?? ''}`);
    }
    expect(problems.slice(0, 12)).toEqual([]);
    return { refusals, resets };
  };

  /**
   * How long after `at` every stream (or those listed) had its first 200, and that it kept serving afterwards:
   * the daemon "serves again" when every connection, on either worker, gets signatures again.
   */
  const servingAgain = (samples: readonly Sample[], at: number, only?: readonly number[]): number => {
    let worst = 0;
    for (let i = 0; i < streams.length; i++) {
      if (only && !only.includes(i)) continue;
      const mine = samples.filter((s) => s.stream === i && s.start >= at);
      const first = mine.find((s) => s.status === 200);
      if (!first) throw new Error(`stream ${i} never got a 200 after the fault cleared`);
      worst = Math.max(worst, first.end - at);
      const later = mine.filter((s) => s.start > first.end && s.status !== 200);
      expect(later.map((s) => `stream ${i}: ${s.status ?? s.error} ${s.code ?? ''}`)).toEqual([]);
    }
    return worst;
  };

  const refusalStats = (refusals: readonly Sample[]): string => {
    const ms = refusals.map((s) => s.end - s.start);
    return `${refusals.length} refused (p50 ${fmt(quantile(ms, 0.5))}, p99 ${fmt(quantile(ms, 0.99))}, max ${fmt(Math.max(0, ...ms))})`;
  };

  const workerExits = (from: number): number => serve.since(from, (l) => l.msg === 'worker exited; restarting').length;

  beforeAll(async () => {
    t = createTestToken({ sessions: 4 });
    pin = t.pin;
    set1 = await provisionSet(t);
    set2 = await provisionSet(t);
    direct = new DirectToken();
    const ids = [set1.rsa, set1.ec, set2.rsa, set2.ec];
    for (const [id, key] of direct.certificateKeys(t.label, pin, ids)) keys.set(id, [key]);
    streams = [
      { product: 'kms', id: set1.ec, algorithm: 'ECDSA_SHA_256' },
      { product: 'kms', id: set1.rsa, algorithm: 'RSA_PKCS1_SHA_256' },
      { product: 'cas', id: set2.ec, algorithm: 'SHA256withECDSA' },
      { product: 'kms', id: set2.ec, algorithm: 'ECDSA_SHA_256' },
      { product: 'kms', id: set2.rsa, algorithm: 'RSA_PSS_SHA_256' },
      { product: 'cas', id: set1.rsa, algorithm: 'SHA256withRSA' },
    ];
    work = mkdtempSync(join(tmpdir(), 'p11bridge-faultload-'));
    fault = createFaultControl(join(work, 'fault'));
    config = join(work, 'config.yaml');
    writeFileSync(
      config,
      stringify({
        server: {
          host: '127.0.0.1',
          port: 0,
          workers: 2,
          shutdownTimeoutMs: 3000,
          supervision: { heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS, noServeExitMs: 60000 },
        },
        tokens: [
          {
            warehouseId: 1,
            name: t.label,
            module: faultTokenModule(),
            tokenLabel: t.label,
            pin: { file: t.pinFile },
            sessions: { size: 4 },
            indexRefreshMs: 500,
            timeouts: { operationMs: OPERATION_MS, keyGenerationMs: 30000, initializeMs: 10000, startMs: 10000 },
            recovery: {
              initialDelayMs: 50,
              maxDelayMs: 500,
              drainMs: 10000,
              maxRecoveries: 20,
              windowMs: 60000,
              stuckExitMs: 60000,
            },
          },
        ],
        auth: { accessKeys: [{ id: ACCESS_KEY_ID, secret: { env: 'FAULT_LOAD_SECRET' } }] },
      }),
    );
    serve = new ServeProcess(config, { ...process.env, ...fault.env, FAULT_LOAD_SECRET: ACCESS_KEY_SECRET });
    const listening = await serve.waitFor((l) => l.msg === 'cluster listening', 30000);
    port = listening.port ?? 0;
  }, 90000);

  beforeEach(async () => {
    // Each fault starts from a serving daemon: no rule, two workers, the token ready in both.
    fault.clear();
    await until(() => serve.workers().length === 2, 15000, 'two workers');
    await until(
      async () => {
        const answers = await Promise.all([1, 2, 3, 4].map(() => readyz(port)));
        return answers.every((a) => a.status === 200 && a.tokens.every((tk) => tk.ready));
      },
      15000,
      'ready in both workers',
    );
  }, 40000);

  afterEach(async () => {
    // A failed test's load would otherwise go on sending for good, and Jest would never exit (CI waited for its
    // npm test timeout). Stopping a stopped load is harmless.
    await current?.stop();
    current = undefined;
    await currentHealth?.stop().catch(() => undefined); // its verdict was the test's to give
    currentHealth = undefined;
  }, 30000);

  afterAll(async () => {
    fault?.clear(); // a call hanging in the module returns
    for (const pid of stopped) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    if (serve && serve.proc.exitCode === null) {
      const workers = serve.workers();
      serve.proc.kill('SIGTERM');
      const code = await Promise.race([serve.exited(), delay(15000, 'timeout')]);
      if (code !== 0) {
        serve.proc.kill('SIGKILL');
        for (const w of workers) {
          try {
            process.kill(w, 'SIGKILL');
          } catch {
            // gone already
          }
        }
      }
      expect(code).toBe(0);
    }
    direct?.close();
    fault?.cleanup();
    t?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 30000);

  it('a hanging C_Sign: 503 at the deadline, /healthz p99 under 50 ms, /readyz names the hang; serves again once it returns', async () => {
    const mark = serve.lines.length;
    const workers = serve.workers();
    const load = startLoad();
    await delay(800);
    const health = (currentHealth = pollHealthz(port, 50));
    fault.set(['C_Sign hang']);
    await delay(OPERATION_MS + 800); // past the deadline in both workers
    const during = await Promise.all([1, 2, 3, 4, 5, 6].map(() => readyz(port)));
    for (const r of during) {
      expect(r.status).toBe(503);
      expect(r.tokens[0]?.ready).toBe(false);
      expect(r.tokens[0]?.reason).toMatch(/did not answer within 1000 ms/);
    }
    await delay(1200); // a 3 s hang in all
    const clearedAt = performance.now();
    fault.clear();
    const healthMs = await health.stop();
    await delay(3000);
    const samples = await load.stop();

    const { refusals } = judge(samples);
    expect(refusals.length).toBeGreaterThan(0);
    expect(fault.injected().C_Sign).toBeGreaterThan(0);
    const recovery = servingAgain(samples, clearedAt);
    expect(recovery).toBeLessThan(RECOVERY_MS);
    expect(healthMs.length).toBeGreaterThan(30);
    expect(quantile(healthMs, 0.99)).toBeLessThan(50);
    expect(workerExits(mark)).toBe(0);
    expect(serve.workers()).toEqual(workers);
    console.log(
      `hang 3 s: ${samples.length} requests, ${refusalStats(refusals)}; /healthz every 50 ms: ${healthMs.length} polls, ` +
        `p50 ${quantile(healthMs, 0.5).toFixed(1)} ms, p99 ${quantile(healthMs, 0.99).toFixed(1)} ms, ` +
        `max ${Math.max(...healthMs).toFixed(1)} ms; serving again ${fmt(recovery)} after the hang ended`,
    );
  }, 30000);

  it('a removed device (C_Sign fails CKR_DEVICE_REMOVED 3 times per worker): 503s, one module re-initialisation per fault, no worker lost', async () => {
    const mark = serve.lines.length;
    const workers = serve.workers();
    const before = fault.counts();
    const injected0 = fault.injected().C_Sign;
    const load = startLoad();
    await delay(800);
    const faultAt = performance.now();
    fault.set(['C_Sign fail CKR_DEVICE_REMOVED times=3']);
    await delay(2500);
    const clearedAt = performance.now();
    fault.clear();
    await delay(2500);
    const samples = await load.stop();

    const { refusals } = judge(samples);
    const after = fault.counts();
    const injected = fault.injected().C_Sign - injected0;
    expect(injected).toBeGreaterThan(0);
    expect(injected).toBeLessThanOrEqual(6); // times=3 in each of the two workers
    // Every injected fault is answered by the module's rung: C_Finalize + C_Initialize (several faults that arrive
    // together join one re-initialisation), then a login in that worker.
    const reinits = after.C_Initialize - before.C_Initialize;
    expect(reinits).toBeGreaterThanOrEqual(1);
    expect(reinits).toBeLessThanOrEqual(injected);
    expect(after.C_Finalize - before.C_Finalize).toBe(reinits);
    // PIN safety: never more logins than re-initialisations. Fewer is possible: a re-initialisation that a second
    // fault supersedes before its reconnect logged in is followed by one login, not two (seen once in 4 clean CI
    // runs); a token left without its login would not serve again, which `recovery` below catches.
    const logins = after.C_Login - before.C_Login;
    expect(logins).toBeGreaterThanOrEqual(1);
    expect(logins).toBeLessThanOrEqual(reinits);
    const lastRefusal = Math.max(...refusals.map((s) => s.end));
    const outage = servingAgain(samples, lastRefusal);
    const recovery = servingAgain(samples, clearedAt);
    expect(recovery).toBeLessThan(RECOVERY_MS);
    expect(workerExits(mark)).toBe(0);
    expect(serve.workers()).toEqual(workers);
    console.log(
      `device removed: ${samples.length} requests, ${refusalStats(refusals)}; ${injected} faults injected, ` +
        `${reinits} module re-initialisations; last refusal ${fmt(lastRefusal - faultAt)} after the rule, ` +
        `every connection served ${fmt(outage)} after it; ${fmt(recovery)} after the rule was cleared`,
    );
  }, 30000);

  it('the PIN changed underneath, then a re-initialisation: one C_Login in both workers together, /readyz says PIN; SIGHUP retries only a new PIN value', async () => {
    const mark = serve.lines.length;
    const workers = serve.workers();
    const c0 = fault.counts().C_Login;
    const logins = (): number => fault.counts().C_Login - c0;
    const load = startLoad();
    await delay(800);
    // Another application changes the user PIN on the token (straight to SoftHSM2). The workers are logged in and
    // go on signing; the daemon's PIN file still holds the old value.
    const newPin = randomBytes(8).toString('hex');
    direct.use(t.label, pin, (lib, session) => lib.C_SetPIN(session, pin, newPin));
    const oldPin = pin;
    pin = newPin;
    // A device error (injected once per worker) makes each worker re-initialise the module and log in again: the
    // token (SoftHSM2 itself, no injected PIN fault) refuses the old PIN.
    fault.set(['C_Sign fail CKR_DEVICE_ERROR times=1']);
    const refusedIn = await until(
      async () => {
        const answers = await Promise.all([1, 2, 3, 4].map(() => readyz(port)));
        return answers.every((a) => a.status === 503 && /PIN/.test(a.tokens[0]?.reason ?? ''));
      },
      5000,
      'unavailable with a PIN reason in both workers',
    );
    expect(logins()).toBe(1); // the first worker's try; the primary's gate told the other not to try that value
    await delay(3000); // nothing retries the PIN by itself, whatever the load
    expect(logins()).toBe(1);
    expect(serve.since(mark, (l) => /refused the PIN/.test(String(l.msg)))).toHaveLength(1);

    // SIGHUP with the same PIN value (the file is even rewritten with it): no worker tries it again.
    fault.clear();
    writeFileSync(t.pinFile, oldPin, { mode: 0o600 });
    let reloadMark = serve.lines.length;
    process.kill(serve.pid, 'SIGHUP');
    await serve.waitFor((l) => l.msg === 'cluster reloaded', 10000, reloadMark);
    await delay(1500);
    expect(logins()).toBe(1);
    const still = await Promise.all([1, 2, 3, 4].map(() => readyz(port)));
    for (const r of still) expect(r.tokens[0]?.reason).toMatch(/PIN/);

    // The operator writes the new PIN into the file and sends SIGHUP: the new value is tried (once per worker:
    // each process holds its own login) and the daemon serves again.
    writeFileSync(t.pinFile, newPin, { mode: 0o600 });
    reloadMark = serve.lines.length;
    const hupAt = performance.now();
    process.kill(serve.pid, 'SIGHUP');
    const backIn = await until(
      async () => {
        const answers = await Promise.all([1, 2, 3, 4].map(() => readyz(port)));
        return answers.every((a) => a.status === 200);
      },
      RECOVERY_MS,
      'ready again with the new PIN',
    );
    await delay(1000);
    const samples = await load.stop();

    const { refusals } = judge(samples);
    const recovery = servingAgain(samples, hupAt);
    expect(recovery).toBeLessThan(RECOVERY_MS);
    expect(logins()).toBe(3);
    expect(workerExits(mark)).toBe(0);
    expect(serve.workers()).toEqual(workers);
    console.log(
      `PIN changed underneath: both workers unavailable (PIN) ${fmt(refusedIn)} after the re-initialisation fault; ` +
        `C_Login +1 in both workers together, still +1 after 3 s of load and after SIGHUP with the same PIN; ` +
        `+3 after the new PIN was written and SIGHUP (one per worker); ready ${fmt(backIn)} and every connection ` +
        `served ${fmt(recovery)} after that SIGHUP; ${refusalStats(refusals)}`,
    );
  }, 40000);

  it('kill -9 of a worker: the other serves on, a replacement listens, resets only on the killed worker connections', async () => {
    const mark = serve.lines.length;
    const before = serve.workers();
    const victim = before[0] as number;
    const load = startLoad();
    await delay(1000);
    const killAt = performance.now();
    process.kill(victim, 'SIGKILL');
    const replacement = await serve.waitFor(
      (l) => l.msg === 'listening' && l.pid !== undefined && !before.includes(l.pid),
      15000,
      mark,
    );
    const replacedIn = performance.now() - killAt;
    await delay(1500);
    const samples = await load.stop();
    await delay(1200); // the access log is written in batches

    const answeredBy = serve.answeredBy();
    const socketPid = new Map<number, number>();
    for (const s of samples) {
      const pid = s.requestId === undefined ? undefined : answeredBy.get(s.requestId);
      if (pid !== undefined) socketPid.set(s.socket, pid);
    }
    const { resets } = judge(samples, {
      // A connection the killed worker held, or a new one it was handed in the moment before the primary saw it die.
      resetOk: (s) => {
        const pid = socketPid.get(s.socket);
        return pid === victim || (pid === undefined && s.start >= killAt - 100 && s.end - killAt < 2000);
      },
    });
    const survivor = before[1] as number;
    const survivorServed = samples.filter(
      (s) =>
        s.status === 200 && s.start > killAt && s.end < killAt + replacedIn && socketPid.get(s.socket) === survivor,
    );
    expect(survivorServed.length).toBeGreaterThan(0);
    expect(replacement.pid).not.toBe(victim);
    expect(serve.workers()).toHaveLength(2);
    expect(serve.workers()).not.toContain(victim);
    expect(workerExits(mark)).toBe(1);
    const recovery = servingAgain(samples, killAt + replacedIn);
    console.log(
      `kill -9: ${samples.length} requests, ${resets.length} connection resets (all on the killed worker), ` +
        `${survivorServed.length} signatures from the other worker meanwhile; replacement listening ${fmt(replacedIn)} after the kill; ` +
        `every connection served ${fmt(recovery)} after that`,
    );
  }, 30000);

  it('a stuck worker (SIGSTOP): the primary kills it after the heartbeat timeout and replaces it; the other serves on', async () => {
    const mark = serve.lines.length;
    const before = serve.workers();
    const victim = before[0] as number;
    const load = startLoad();
    await delay(1000);
    const stopAt = performance.now();
    stopped.add(victim);
    process.kill(victim, 'SIGSTOP');
    await serve.waitFor((l) => l.msg === 'worker event loop stuck: killing it', 10000, mark);
    const killedIn = performance.now() - stopAt;
    await serve.waitFor((l) => l.msg === 'listening' && l.pid !== undefined && !before.includes(l.pid), 15000, mark);
    const replacedIn = performance.now() - stopAt;
    stopped.delete(victim);
    await delay(1500);
    const samples = await load.stop();
    await delay(1200); // the access log is written in batches

    // Heartbeats every 1 s, checked every 500 ms: killed between 1 and 2.5 s after the timeout's start.
    expect(killedIn).toBeLessThan(HEARTBEAT_TIMEOUT_MS + 1500 + 500);
    const answeredBy = serve.answeredBy();
    const socketPid = new Map<number, number>();
    for (const s of samples) {
      const pid = s.requestId === undefined ? undefined : answeredBy.get(s.requestId);
      if (pid !== undefined) socketPid.set(s.socket, pid);
    }
    const handedToStopped = (s: Sample): boolean =>
      socketPid.get(s.socket) === undefined && s.start >= stopAt - 100 && s.start <= stopAt + killedIn + 1000;
    // node:cluster's round-robin keeps its copy of a connection handed to a worker until the worker acknowledges it;
    // the primary closes the copies a dead worker never acknowledged (src/cluster/handoffs.ts). Without that, such a
    // connection was neither answered nor closed (its client waited for its own timeout).
    const lost = samples.filter((s) => handedToStopped(s) && s.error?.includes('client timeout') === true);
    expect(lost.map((s) => `stream ${s.stream} at ${fmt(s.start)}: ${s.error}`)).toEqual([]);
    const onVictim = (s: Sample): boolean => {
      const pid = socketPid.get(s.socket);
      // Its connections, and new ones the primary handed it while it was stopped: held until it was killed.
      return pid === victim || (handedToStopped(s) && s.end <= stopAt + killedIn + 1000);
    };
    const { resets } = judge(samples, { resetOk: onVictim, slowOk: onVictim });
    const survivor = before[1] as number;
    const survivorServed = samples.filter(
      (s) => s.status === 200 && s.start > stopAt && s.end < stopAt + killedIn && socketPid.get(s.socket) === survivor,
    );
    expect(survivorServed.length).toBeGreaterThan(0);
    expect(resets.length).toBeGreaterThan(0); // requests the stuck worker held were cut when it was killed
    expect(serve.workers()).toHaveLength(2);
    expect(serve.workers()).not.toContain(victim);
    expect(workerExits(mark)).toBe(1);
    const recovery = servingAgain(samples, stopAt + replacedIn);
    console.log(
      `stuck worker: killed ${fmt(killedIn)} after SIGSTOP (heartbeatTimeoutMs ${HEARTBEAT_TIMEOUT_MS}), replacement ` +
        `listening after ${fmt(replacedIn)}; ${resets.length} requests cut on its connections; ${survivorServed.length} ` +
        `signatures from the other worker meanwhile; every connection served ${fmt(recovery)} after the replacement; ` +
        `${serve.since(mark, (l) => l.msg === 'closed connections handed to a dead worker').length} unacknowledged handoff(s) closed by the primary`,
    );
  }, 30000);

  it('a duplicate and a damaged metadata object: both identities refused with 409 Rejected.Disabled, the others serve; `certs status ACTIVE` repairs them', async () => {
    const mark = serve.lines.length;
    const workers = serve.workers();
    const load = startLoad();
    await delay(800);
    const metadataOf = (lib: pkcs11.PKCS11, session: pkcs11.Handle, id: string): pkcs11.Handle[] =>
      find(lib, session, [
        { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_DATA },
        { type: pkcs11.CKA_APPLICATION, value: METADATA_APPLICATION },
        { type: pkcs11.CKA_LABEL, value: id },
      ]);
    const dataObject = (id: string, value: Buffer): pkcs11.Template => [
      { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_DATA },
      { type: pkcs11.CKA_TOKEN, value: true },
      { type: pkcs11.CKA_PRIVATE, value: true },
      { type: pkcs11.CKA_APPLICATION, value: METADATA_APPLICATION },
      { type: pkcs11.CKA_LABEL, value: id },
      { type: pkcs11.CKA_VALUE, value },
    ];
    const duplicate = set1.ec;
    const damaged = set1.rsa;
    const brokenAt = performance.now();
    direct.use(t.label, pin, (lib, session) => {
      const [original] = metadataOf(lib, session, duplicate);
      if (original === undefined) throw new Error(`no metadata for ${duplicate}`);
      const [value] = lib.C_GetAttributeValue(session, original, [{ type: pkcs11.CKA_VALUE }]);
      lib.C_CreateObject(session, dataObject(duplicate, value?.value as Buffer)); // a second, equal one
      // SoftHSM2 refuses to change a data object's CKA_VALUE: replace it with a garbage one.
      const [old] = metadataOf(lib, session, damaged);
      lib.C_CreateObject(session, dataObject(damaged, Buffer.from('{"status": "ACT\u0000garbage')));
      if (old !== undefined) lib.C_DestroyObject(session, old);
    });
    const brokenStreams = streams.flatMap((s, i) => (s.id === duplicate || s.id === damaged ? [i] : []));
    const refusedOn = (id: string, from: number): boolean => {
      const idStreams = streams.flatMap((s, i) => (s.id === id ? [i] : []));
      return idStreams.every((i) => {
        const last = load.samples.filter((s) => s.stream === i && s.start >= from && s.end > 0).slice(-3);
        return last.length === 3 && last.every((s) => s.status === 409 && s.code === 'Rejected.Disabled');
      });
    };
    const servingOn = (id: string, from: number): boolean => {
      const idStreams = streams.flatMap((s, i) => (s.id === id ? [i] : []));
      return idStreams.every((i) =>
        load.samples.filter((s) => s.stream === i && s.start >= from && s.end > 0).some((s) => s.status === 200),
      );
    };
    const refusedIn = await until(
      () => refusedOn(duplicate, brokenAt) && refusedOn(damaged, brokenAt),
      5000,
      'refused',
    );
    await delay(1000);

    const repairAt = performance.now();
    await cli(['certs', 'status', '--id', duplicate, '--status', 'ACTIVE']);
    const repairedIn = await until(() => servingOn(duplicate, repairAt), RECOVERY_MS, 'the repaired identity serving');
    await delay(1000);
    expect(refusedOn(damaged, repairAt)).toBe(true); // the other one is still refused
    const repair2At = performance.now();
    await cli(['certs', 'status', '--id', damaged, '--status', 'ACTIVE']);
    await until(() => servingOn(damaged, repair2At), RECOVERY_MS, 'the second repaired identity serving');
    await delay(1000);
    const samples = await load.stop();

    const { refusals } = judge(samples, {
      also: (s) => brokenStreams.includes(s.stream) && s.status === 409 && s.code === 'Rejected.Disabled',
    });
    expect(refusals.every((s) => brokenStreams.includes(s.stream))).toBe(true);
    expect(refusals.every((s) => s.start >= brokenAt)).toBe(true);
    // From the second repair on: every stream got a 200 and kept serving (the window after it may be short when the
    // repair takes effect at once, so it starts at the repair, not 2 s later).
    servingAgain(samples, repair2At);
    expect(serve.since(mark, (l) => /metadata/.test(JSON.stringify(l))).length).toBeGreaterThan(0);
    expect(workerExits(mark)).toBe(0);
    expect(serve.workers()).toEqual(workers);
    console.log(
      `metadata: both identities refused (409 Rejected.Disabled) ${fmt(refusedIn)} after the objects were written ` +
        `(indexRefreshMs 500); ${refusals.length} refusals, none on the other identities (${samples.length} requests); ` +
        `\`certs status ACTIVE\` repaired one, serving ${fmt(repairedIn)} after the command started`,
    );
  }, 40000);

  it('the token re-initialised underneath (softhsm2-util) and re-provisioned with the same ids: 503/404 meanwhile, then signatures of the NEW keys', async () => {
    const mark = serve.lines.length;
    const workers = serve.workers();
    const load = startLoad();
    await delay(800);
    const reinitAt = performance.now();
    // Forensics for any signature that verifies with neither key of its identity: every key pair on the token
    // before, between the two provisions and after them.
    const tokenKeys: Array<{ stage: string; keys: TokenPublicKey[] }> = [
      { stage: 'before', keys: await readDirect('public keys', () => direct.publicKeys(t.label, pin)) },
    ];
    // The provisioning process itself may fail: SoftHSM2 2.6.1's file store, read by the daemon's two workers at
    // the same time, now and then answers the writer CKR_OBJECT_HANDLE_INVALID for an object it has just created
    // (measured with three bare pkcs11js processes: 2 of 364 create-and-read cycles, each fine again 20 ms later;
    // here 2 of 12 runs). That is the test bed, not the daemon: the whole step (re-initialisation included, which
    // wipes what the failed run wrote) is then done once more, loudly.
    const provisioned: number[] = [];
    const provisionFailures: string[] = [];
    for (let attempt = 1; ; attempt++) {
      try {
        await run(
          'softhsm2-util',
          ['--init-token', '--token', t.label, '--label', t.label, '--so-pin', t.soPin, '--pin', pin],
          { ...process.env, SOFTHSM2_CONF: t.conf },
        );
        for (const set of [set1, set2]) {
          await cli(['provision', '--ids', [set.ca, set.rsa, set.ec].join(',')]);
          provisioned.push(performance.now());
          const after = await readDirect('public keys', () => direct.publicKeys(t.label, pin));
          tokenKeys.push({ stage: `after provision ${provisioned.length}`, keys: after });
        }
        break;
      } catch (e) {
        if (attempt >= 2) throw e;
        provisionFailures.push((e as Error).message.split('\n').slice(-2).join(' ').trim());
        console.warn(`re-initialised underneath: the provisioning failed (SoftHSM2 test bed), done again: ${e}`);
      }
    }
    const provisionedAt = performance.now();
    const ids = [set1.rsa, set1.ec, set2.rsa, set2.ec];
    const fresh = await readDirect('certificates', () => direct.certificateKeys(t.label, pin, ids));
    for (const [id, key] of fresh) keys.get(id)?.push(key);
    const newKeyEverywhere = (): boolean =>
      streams.every((_s, i) =>
        load.samples.some((s) => s.stream === i && s.start >= provisionedAt && s.verifiedBy === 1),
      );
    const servedIn = await until(newKeyEverywhere, RECOVERY_MS, 'signing with the new keys on every connection');
    await delay(1500);
    const samples = await load.stop();
    await delay(1200); // the access log is written in batches
    const serverMs = serve
      .since(mark, (l) => l.msg === 'request')
      .map((l) => (typeof l.latencyMs === 'number' ? l.latencyMs : 0));
    // Every 200 is verified again now that the new keys are known. Verified as it arrived, a signature of a new key
    // answered before the test had read that key failed: the daemon serves each identity as soon as its provision
    // ends, the test learns the keys only after both (measured: 14 to 414 such answers per run, every one verified
    // by its own identity's new key). A signature that verifies with neither key of its identity is the worst bug
    // this product can have: the forensics name the key on the token that made it, if any.
    const unverified: string[] = [];
    for (const s of samples) {
      if (s.status !== 200) continue;
      const stream = streams[s.stream] as LoadStream;
      const [message, signature] = [s.message as Buffer, s.signature as Buffer];
      s.verifiedBy = (keys.get(stream.id) ?? []).findIndex((k) => sigVerifies(stream, message, signature, k));
      if (s.verifiedBy >= 0) continue;
      const by = tokenKeys.flatMap((stage) =>
        stage.keys
          .filter((k) => sigVerifies(stream, message, signature, k.key))
          .map((k) => `${stage.stage}: ${k.label}`),
      );
      unverified.push(
        `stream ${s.stream} (${stream.id}) at ${fmt(s.start - reinitAt)} after the re-initialisation: made by ${by.join(', ') || 'no key on the token'}`,
      );
    }
    expect(unverified.slice(0, 12)).toEqual([]);

    // While the keys are gone: not found (KMS 404, CAS 400). While an identity is being provisioned again, an index
    // refresh may see it half-written: a key pair without its certificate is PENDING (409 Rejected.Pending), a key
    // and certificate before their metadata object is refused as needing an operator (409 Rejected.Disabled, fail
    // closed) until the next refresh sees the metadata. None of them is ever served.
    const notFound = (s: Sample): boolean =>
      (s.status === 404 && s.code === 'Certificate.NotFound') || (s.status === 400 && s.code === 'NotFound');
    const halfWritten = (s: Sample): boolean =>
      s.status === 409 &&
      (s.code === 'Rejected.Pending' || s.code === 'Rejected.Disabled') &&
      s.start <= provisionedAt + 1000;

    // Until 2026-12-06 a worker died of SIGSEGV here in about 1 run of 4 (pkcs11js C_GetAttributeValue copied from a
    // NULL buffer while another process wrote the object; fixed by patches/pkcs11js+2.1.7.patch, proven by
    // test/integration/attributeRace.int.test.ts), and answers were measured seconds late because this process sat
    // in spawnSync (now execFile: the load keeps flowing). Both are strict now; FAULTLOAD_STRICT=0 tolerates them
    // again (loudly, and only a native-signal death) for a diagnosis run.
    const crashes = serve.since(mark, (l) => l.msg === 'worker exited; restarting');
    const strict = process.env.FAULTLOAD_STRICT !== '0';
    const tolerateCrash = crashes.length > 0 && !strict;
    if (tolerateCrash) {
      for (const c of crashes) expect(String(c.why)).toMatch(/signal SIG(SEGV|BUS|ABRT)/);
      console.warn(
        `TOLERATED: ${crashes.map((c) => String(c.why)).join('; ')} during the re-initialisation underneath`,
      );
    }
    const { refusals, resets } = judge(samples, {
      also: (s) => s.start >= reinitAt && (notFound(s) || halfWritten(s)),
      slowOk: () => tolerateCrash,
      resetOk: () => tolerateCrash,
    });
    // No signature of an old key once the new keys serve on a connection.
    for (let i = 0; i < streams.length; i++) {
      const mine = samples.filter((s) => s.stream === i && s.status === 200);
      const firstNew = mine.findIndex((s) => s.verifiedBy === 1);
      expect(firstNew).toBeGreaterThanOrEqual(0);
      expect(mine.slice(firstNew).filter((s) => s.verifiedBy !== 1)).toEqual([]);
    }
    const refusalKinds = new Map<string, number>();
    for (const s of refusals)
      refusalKinds.set(`${s.status} ${s.code}`, (refusalKinds.get(`${s.status} ${s.code}`) ?? 0) + 1);
    if (!tolerateCrash) {
      expect(workerExits(mark)).toBe(0);
      expect(serve.workers()).toEqual(workers);
    }
    console.log(
      `re-initialised underneath: softhsm2-util + 2 provisions took ${fmt(provisionedAt - reinitAt)}; ` +
        `${samples.length} requests, ${refusalStats(refusals)} [${[...refusalKinds].map(([k, n]) => `${k}: ${n}`).join(', ')}]; ` +
        `new keys signing on every connection ${fmt(servedIn)} after the provisioning ended; ` +
        `${crashes.length} worker crashes, ${resets.length} resets, ${provisionFailures.length} provisioning runs failed and done again, ` +
        `${samples.filter((x) => x.end - x.start > OPERATION_MS + MARGIN_MS).length} answers slower than ${OPERATION_MS + MARGIN_MS} ms ` +
        `(slowest ${fmt(Math.max(0, ...samples.map((x) => x.end - x.start)))} at the client, ${fmt(Math.max(0, ...serverMs))} in the daemon's access log)`,
    );
  }, 60000);
});
