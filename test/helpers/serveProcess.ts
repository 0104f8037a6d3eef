import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { recordConfigSecrets, scannedFile } from './leakCheck';
import { resolve } from 'node:path';

/** The built CLI (`npm run build`), as an operator runs it. */
export const CLI = resolve(__dirname, '..', '..', 'dist', 'main.js');

/** One JSON log line of the daemon (pino), with the fields the tests read. */
export interface LogLine {
  readonly msg?: string;
  readonly pid?: number;
  readonly port?: number;
  readonly requestId?: string;
  readonly code?: string;
  readonly status?: number;
  readonly reason?: string;
  readonly [key: string]: unknown;
}

/**
 * `p11bridge serve --config F` in a child process (the node:cluster primary and its workers share its stdout),
 * with every JSON log line kept in order, so that a test can wait for one and map request ids to worker pids.
 */
export class ServeProcess {
  readonly lines: LogLine[] = [];
  readonly proc: ChildProcess;
  #buffer = '';
  readonly #exit: Promise<number | null>;

  /** `env` is added to this process's environment. */
  constructor(config: string, env: NodeJS.ProcessEnv = {}) {
    // For the suite's leak check: the secrets the config names, and everything the daemon writes.
    recordConfigSecrets(config, { ...process.env, ...env });
    const scanned = scannedFile('logs', 'serve.log');
    this.proc = spawn('node', [CLI, 'serve', '--config', config], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    // P11B_SERVE_LOG=file keeps a copy of the daemon's log (for diagnosing a failed run after the fact).
    const logFile = process.env.P11B_SERVE_LOG;
    this.proc.stdout?.on('data', (d: Buffer) => {
      if (scanned) appendFileSync(scanned, d);
      if (logFile) appendFileSync(logFile, d);
      this.#buffer += d.toString('utf8');
      const parts = this.#buffer.split('\n');
      this.#buffer = parts.pop() ?? '';
      for (const p of parts) {
        try {
          this.lines.push(JSON.parse(p) as LogLine);
        } catch {
          // not a log line
        }
      }
    });
    this.#exit = new Promise((res) => this.proc.once('exit', (code) => res(code)));
  }

  get pid(): number {
    return this.proc.pid ?? 0;
  }

  exited(): Promise<number | null> {
    return this.#exit;
  }

  /** The first log line from index `from` on that matches; throws after `ms`. */
  async waitFor(pred: (l: LogLine) => boolean, ms = 20000, from = 0): Promise<LogLine> {
    const until = Date.now() + ms;
    for (;;) {
      const hit = this.lines.slice(from).find(pred);
      if (hit) return hit;
      if (this.proc.exitCode !== null) throw new Error(`the daemon exited (${this.proc.exitCode}) before the line`);
      if (Date.now() > until) throw new Error(`log line not seen within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Log lines from index `from` on that match. */
  since(from: number, pred: (l: LogLine) => boolean): LogLine[] {
    return this.lines.slice(from).filter(pred);
  }

  /**
   * Runs `fn`; when it throws, prints the daemon's warning and error lines logged meanwhile (the log of a failed CI
   * run is gone with its temporary directory: this keeps the daemon's side of the story in the test output).
   */
  async explainFailure<T>(fn: () => Promise<T>): Promise<T> {
    const mark = this.lines.length;
    try {
      return await fn();
    } catch (e) {
      const said = this.since(
        mark,
        (l) => (typeof l.level === 'number' && l.level >= 40) || l.msg === 'request refused',
      ).map((l) => JSON.stringify(l));
      console.error(`the daemon's warnings, errors and refusals meanwhile:\n${said.join('\n') || '(none)'}`);
      throw e;
    }
  }

  /** The worker processes (children of the primary), ascending. */
  workers(): number[] {
    const r = spawnSync('pgrep', ['-P', String(this.pid)], { encoding: 'utf8' });
    return r.stdout
      .split('\n')
      .filter(Boolean)
      .map(Number)
      .sort((a, b) => a - b);
  }

  /** The worker pid that answered each request, from the access log (`msg: request`). */
  answeredBy(): Map<string, number> {
    const out = new Map<string, number>();
    for (const l of this.lines) {
      if (l.msg === 'request' && l.requestId && l.pid) out.set(l.requestId, l.pid);
    }
    return out;
  }
}
