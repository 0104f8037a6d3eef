import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

/** The built CLI (dist/), as an operator runs it. */
const CLI = resolve(__dirname, '..', '..', 'dist', 'main.js');

export interface LogLine {
  msg?: string;
  pid?: number;
  port?: number;
  requestId?: string;
  code?: string;
}

/** `p11bridge serve` as an operator runs it: a node:cluster primary and its workers, JSON log lines on stdout. */
export class ServeProcess {
  readonly lines: LogLine[] = [];
  readonly proc: ChildProcess;
  #buffer = '';
  #exit: Promise<number | null>;

  constructor(config: string, env: NodeJS.ProcessEnv = {}) {
    this.proc = spawn('node', [CLI, 'serve', '--config', config], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    this.proc.stdout?.on('data', (d: Buffer) => {
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

  exited(): Promise<number | null> {
    return this.#exit;
  }

  async waitFor(pred: (l: LogLine) => boolean, ms = 20000): Promise<LogLine> {
    const until = Date.now() + ms;
    for (;;) {
      const hit = this.lines.find(pred);
      if (hit) return hit;
      if (Date.now() > until) throw new Error('log line not seen in time');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The worker processes (children of the primary). */
  workers(): number[] {
    const r = spawnSync('pgrep', ['-P', String(this.proc.pid)], { encoding: 'utf8' });
    return r.stdout
      .split('\n')
      .filter(Boolean)
      .map(Number)
      .sort((a, b) => a - b);
  }
}
