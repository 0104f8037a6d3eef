/**
 * The IPC protocol between the benchmark (parent: load generator, report) and its children (the daemon, the
 * reference server, the in-process "direct" signer). Each child runs alone in its process so that its CPU time
 * (`process.cpuUsage()`, which counts every thread: the JS thread and the libuv threadpool where SoftHSM2 signs)
 * belongs to the server alone.
 */

/** What a child is. */
export type ChildRole = 'direct' | 'daemon' | 'reference';

/** A leaf certificate of the demo token, as a child reports it when ready. */
export interface BenchCertificate {
  readonly id: string;
  /** `RSA_2048`, `EC_P256`, … */
  readonly keySpec: string;
  readonly certificatePem: string;
}

/** The child is listening (daemon, reference) or has its token open (direct). */
export interface ReadyMessage {
  readonly type: 'ready';
  /** TCP port on 127.0.0.1; 0 for `direct`. */
  readonly port: number;
  readonly certificates: readonly BenchCertificate[];
  /** Session-pool size of the token, and the libuv threadpool size the child runs with. */
  readonly poolSize: number;
  readonly threadpool: number;
  /** Serving processes: the daemon's workers (node:cluster), 1 for the others. */
  readonly workers: number;
  /** The daemon's log level (its request log goes to /dev/null, but it is produced). */
  readonly logLevel: string;
}

/** Process CPU time and event-loop counters at one instant (differences make a cell's figures). */
export interface CpuSample {
  /** `process.cpuUsage()`, µs. */
  readonly user: number;
  readonly system: number;
  /** `performance.eventLoopUtilization()`, ms. */
  readonly eluIdle: number;
  readonly eluActive: number;
  /**
   * CPU time of the JS (main) thread alone, ns (`/proc/self/task/<pid>/schedstat`; null where absent). The
   * threadpool, where the token's private-key work runs, is left out, which makes the request path's own cost
   * visible without the noise of a 500 µs RSA signature.
   */
  readonly mainThreadNs: number | null;
  /** Total GC pause time since the child started, ms (`PerformanceObserver` 'gc' entries). */
  readonly gcMs: number;
  /** Longest single GC pause since the previous sample, ms (the window's worst pause when sampled around it). */
  readonly gcMaxMs: number;
  /**
   * A clustered daemon only: the CPU of its primary process alone, µs (included in `user` + `system`). The primary
   * answers the workers' replay-window claims and hands new connections to them.
   */
  readonly primaryUs?: number;
}

/** One in-process signing run at a fixed concurrency (mode `direct`). */
export interface DirectRequest {
  readonly certificateId: string;
  /** KMS algorithm name (`RSA_PKCS1_SHA_256`, `ECDSA_SHA_256`). */
  readonly algorithm: string;
  /** The message to sign, base64 (the same bytes the HTTP modes send). */
  readonly messageBase64: string;
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly durationMs: number;
}

/** Result of a {@link DirectRequest}: counted after the warm-up only. */
export interface DirectResult {
  readonly ops: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly elapsedMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly before: CpuSample;
  readonly after: CpuSample;
}

/** Parent → child requests; each is answered by one {@link ReplyMessage} with the same `seq`. */
export type Command =
  | { readonly type: 'cpu' }
  | { readonly type: 'direct'; readonly run: DirectRequest }
  | { readonly type: 'profile-start' }
  | { readonly type: 'profile-stop'; readonly file: string }
  | { readonly type: 'stop' };

export interface CommandMessage {
  readonly seq: number;
  readonly command: Command;
}

type ReplyMessage =
  | { readonly type: 'reply'; readonly seq: number; readonly ok: true; readonly value: unknown }
  | { readonly type: 'reply'; readonly seq: number; readonly ok: false; readonly error: string };

export type ChildMessage = ReadyMessage | ReplyMessage;

/** Narrows an IPC message (structured-cloned JSON) to a {@link ChildMessage}. */
export function isChildMessage(m: unknown): m is ChildMessage {
  if (m === null || typeof m !== 'object') return false;
  const t = (m as { type?: unknown }).type;
  return t === 'ready' || t === 'reply';
}

/** Narrows an IPC message to a {@link CommandMessage}. */
export function isCommandMessage(m: unknown): m is CommandMessage {
  if (m === null || typeof m !== 'object') return false;
  const { seq, command } = m as { seq?: unknown; command?: unknown };
  return typeof seq === 'number' && command !== null && typeof command === 'object';
}
