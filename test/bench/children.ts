import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { isChildMessage, type ChildRole, type Command, type CpuSample, type ReadyMessage } from './protocol';

/** A running child (see child.ts) and a typed request/reply channel to it. */
export class BenchChild {
  readonly role: ChildRole;
  readonly ready: ReadyMessage;
  readonly #process: ChildProcess;
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  #seq = 0;
  #exit: string | undefined;

  private constructor(role: ChildRole, proc: ChildProcess, ready: ReadyMessage) {
    this.role = role;
    this.#process = proc;
    this.ready = ready;
    proc.on('message', (m: unknown) => {
      if (!isChildMessage(m) || m.type !== 'reply') return;
      const p = this.#pending.get(m.seq);
      if (!p) return;
      this.#pending.delete(m.seq);
      if (m.ok) p.resolve(m.value);
      else p.reject(new Error(`${role}: ${m.error}`));
    });
    proc.on('exit', (code, signal) => {
      this.#exit = `${role} child exited (${signal ?? `code ${code ?? '?'}`})`;
      for (const p of this.#pending.values()) p.reject(new Error(this.#exit));
      this.#pending.clear();
    });
  }

  get pid(): number {
    return this.#process.pid ?? 0;
  }

  /**
   * Forks `child.js <role>` with its stdout on /dev/null (the daemon's request log is still written, as in
   * production) and waits for its `ready` message.
   */
  static start(role: ChildRole, env: NodeJS.ProcessEnv, execArgv: string[] = []): Promise<BenchChild> {
    const devNull = openSync('/dev/null', 'w');
    const proc = fork(join(__dirname, 'child.js'), [role], {
      env,
      execArgv,
      stdio: ['ignore', devNull, 'inherit', 'ipc'],
    });
    closeSync(devNull);
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null, signal: string | null): void =>
        reject(new Error(`${role} child exited before it was ready (${signal ?? `code ${code ?? '?'}`})`));
      proc.once('exit', onExit);
      proc.on('message', function onReady(m: unknown) {
        if (!isChildMessage(m) || m.type !== 'ready') return;
        proc.off('message', onReady);
        proc.off('exit', onExit);
        resolve(new BenchChild(role, proc, m));
      });
    });
  }

  /** Sends a command and waits for its reply. */
  call<T>(command: Command): Promise<T> {
    if (this.#exit) return Promise.reject(new Error(this.#exit));
    const seq = ++this.#seq;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(seq, { resolve: (v) => resolve(v as T), reject });
      this.#process.send({ seq, command });
    });
  }

  cpu(): Promise<CpuSample> {
    return this.call<CpuSample>({ type: 'cpu' });
  }

  /** Graceful stop (the child closes its server and token, then exits); killed if it takes over 15 s. */
  async stop(): Promise<void> {
    if (this.#exit) return;
    const exited = new Promise<void>((resolve) => this.#process.once('exit', () => resolve()));
    const timer = setTimeout(() => this.#process.kill('SIGKILL'), 15000);
    await this.call({ type: 'stop' }).catch(() => undefined);
    await exited;
    clearTimeout(timer);
  }
}

/** What a server process spent between two samples. */
export interface CpuDelta {
  /** All threads, µs. */
  readonly cpuUs: number;
  /** The JS thread alone, µs (null where schedstat is absent). */
  readonly mainUs: number | null;
  /** Event-loop utilisation, 0–1. */
  readonly elu: number;
  /** GC pause time in the window, ms, and its longest pause. */
  readonly gcMs: number;
  readonly gcMaxMs: number;
  /** A clustered daemon's primary process alone, µs. */
  readonly primaryUs?: number;
}

/** CPU µs and event-loop utilisation between two samples. */
export function cpuDelta(before: CpuSample, after: CpuSample): CpuDelta {
  const active = after.eluActive - before.eluActive;
  const idle = after.eluIdle - before.eluIdle;
  return {
    cpuUs: after.user - before.user + (after.system - before.system),
    mainUs:
      before.mainThreadNs !== null && after.mainThreadNs !== null
        ? (after.mainThreadNs - before.mainThreadNs) / 1000
        : null,
    elu: active + idle > 0 ? active / (active + idle) : 0,
    gcMs: after.gcMs - before.gcMs,
    gcMaxMs: after.gcMaxMs,
    ...(before.primaryUs !== undefined && after.primaryUs !== undefined
      ? { primaryUs: after.primaryUs - before.primaryUs }
      : {}),
  };
}
