/**
 * node:cluster's round-robin closes the primary's copy of a connection only when the worker it was handed to
 * acknowledges it. A worker that is stopped (SIGSTOP) and then killed never does: without src/cluster/handoffs.ts
 * that connection is neither served nor closed, and its client waits for its own timeout. Real processes and sockets
 * (a two-worker node:cluster HTTP server started from this test), no daemon: the stuck-worker test of
 * faultsUnderLoad meets the race only sometimes, this makes it happen every time.
 */
import cluster, { type Worker } from 'node:cluster';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { trackHandoffs } from '../../src/cluster/handoffs';

type Outcome = 'ok' | 'reset' | 'hung';

function get(port: number, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve('ok'));
    });
    req.on('timeout', () => {
      resolve('hung');
      req.destroy();
    });
    req.on('error', () => resolve('reset'));
    req.end();
  });
}

describe('connections node:cluster handed to a worker that died before acknowledging them', () => {
  let dir: string;
  const workers: Worker[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'p11bridge-handoffs-'));
    const entry = join(dir, 'worker.js');
    writeFileSync(entry, "require('node:http').createServer((q, s) => s.end('ok')).listen(0, '127.0.0.1');\n");
    cluster.setupPrimary({ exec: entry, args: [], silent: true });
  });

  afterAll(async () => {
    for (const w of workers) if (!w.isDead()) w.process.kill('SIGKILL');
    await delay(100);
    rmSync(dir, { recursive: true, force: true });
  });

  it('are closed by the primary when the worker is killed, instead of hanging until the client gives up', async () => {
    const closed: number[] = [];
    const ports = new Set<number>();
    const listening = new Promise<void>((resolve) => {
      let n = 0;
      cluster.on('listening', (_w, address) => {
        ports.add(address.port);
        if (++n === 2) resolve();
      });
    });
    for (let i = 0; i < 2; i++) {
      const w = cluster.fork();
      const handoffs = trackHandoffs(w);
      w.once('exit', () => closed.push(handoffs.closeUnacknowledged()));
      workers.push(w);
    }
    await listening;
    const [port] = [...ports];
    expect(ports.size).toBe(1);

    const stuck = workers[0] as Worker;
    stuck.process.kill('SIGSTOP');
    const answers: Promise<Outcome>[] = [];
    for (let i = 0; i < 10; i++) {
      answers.push(get(port as number, 4000));
      await delay(20);
    }
    await delay(300);
    const killedAt = Date.now();
    stuck.process.kill('SIGKILL');
    const outcomes = await Promise.all(answers);

    // The round-robin handed the stopped worker one connection (it sends a worker the next only after the reply);
    // the other worker served the rest.
    expect(outcomes.filter((o) => o === 'hung')).toEqual([]);
    expect(outcomes.filter((o) => o === 'reset')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(9);
    expect(closed).toEqual([1]);
    expect(Date.now() - killedAt).toBeLessThan(3000);
  }, 20000);
});
