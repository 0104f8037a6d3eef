import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** USER_HZ: Linux reports process times in 1/100 s on every architecture Node supports. */
const CLOCK_TICKS_PER_SECOND = 100;

/** A port that was free a moment ago (redis-server needs a number; port 0 would not tell us which it took). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** True once something accepts connections on the port. */
function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ host: '127.0.0.1', port });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/**
 * A real redis-server (Debian's, installed by scripts/bootstrap.sh) of the test's own: a free port on 127.0.0.1,
 * a temp directory, no persistence. `stop()` and `start()` take it away and bring it back on the same port, as an
 * operator's restart or an outage would.
 */
export class RedisServer {
  readonly dir = mkdtempSync(join(tmpdir(), 'p11bridge-redis-'));
  #proc: ChildProcess | undefined;
  private constructor(readonly port: number) {}

  /** Starts a new server and waits until it accepts connections. */
  static async start(): Promise<RedisServer> {
    const r = new RedisServer(await freePort());
    await r.start();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** (Re)starts the server on its port. */
  async start(): Promise<void> {
    this.#proc = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    const until = Date.now() + 10_000;
    while (!(await accepting(this.port))) {
      if (this.#proc.exitCode !== null) throw new Error(`redis-server exited (${this.#proc.exitCode})`);
      if (Date.now() > until) throw new Error('redis-server did not start within 10 s');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** CPU time the running server has used so far, µs (utime + stime from /proc, Linux). */
  cpuUs(): number {
    const pid = this.#proc?.pid;
    if (pid === undefined) return 0;
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1e6) / CLOCK_TICKS_PER_SECOND;
  }

  /** Kills the server (an outage: nothing is saved) and waits for it to be gone. */
  async stop(): Promise<void> {
    const p = this.#proc;
    this.#proc = undefined;
    if (!p || p.exitCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await gone;
  }

  /** Stops the server and removes its directory. */
  async cleanup(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
