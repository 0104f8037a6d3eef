/**
 * What a benchmark server process measures about itself: CPU (every thread, and the JS thread alone), event-loop
 * utilisation, GC pauses, and an in-process CPU profiler. Used by the bench children and, in cluster mode, by
 * each daemon worker (test/bench/workerHook.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import type { CpuSample } from './protocol';

/** Sampling interval of the CPU profiler, µs (V8's default is 1000; finer resolves short request-path frames). */
const PROFILE_INTERVAL_US = 100;

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

export function cpuSample(): CpuSample {
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

/** The in-process V8 CPU profiler (what `node --cpu-prof` uses), limited to the window the parent chooses. */
export class Profiler {
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

/** Sums the samples of the processes that make one server (cluster primary and workers). */
export function sumSamples(samples: readonly CpuSample[]): CpuSample {
  let mainThreadNs: number | null = 0;
  for (const s of samples)
    mainThreadNs = mainThreadNs === null || s.mainThreadNs === null ? null : mainThreadNs + s.mainThreadNs;
  return {
    user: samples.reduce((n, s) => n + s.user, 0),
    system: samples.reduce((n, s) => n + s.system, 0),
    eluIdle: samples.reduce((n, s) => n + s.eluIdle, 0),
    eluActive: samples.reduce((n, s) => n + s.eluActive, 0),
    mainThreadNs,
    gcMs: samples.reduce((n, s) => n + s.gcMs, 0),
    gcMaxMs: samples.reduce((n, s) => Math.max(n, s.gcMaxMs), 0),
  };
}
