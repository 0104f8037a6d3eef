/**
 * Limits before work (issue 16): two thousand slow or idle connections do not stop a well-behaved client, slow
 * peers are cut at the headers timeout, the connection cap closes surplus connections at once, and a flood of
 * parameters is refused before authentication.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { Agent } from 'node:http';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { signedPost } from '../helpers/rawClient';
import { rawRequest } from '../helpers/rawHttp';

jest.setTimeout(60_000);

/**
 * The flood, in its own process so that its work does not run on the daemon's event loop: `idle` connections
 * that never send a byte and `slow` ones that send a request head one header every 500 ms (slow loris). It
 * prints `open` once every connection is up, and `closed N` each second: how many the server has cut.
 */
const FLOOD = `
const net = require('net');
const [port, idle, slow] = process.argv.slice(1).map(Number);
let open = 0, closed = 0;
const up = () => { if (++open === idle + slow) console.log('open'); };
for (let i = 0; i < idle + slow; i++) {
  const s = net.connect(port, '127.0.0.1', () => {
    up();
    if (i >= idle) {
      s.write('POST / HTTP/1.1\\r\\nHost: x\\r\\n');
      const t = setInterval(() => s.write('x-slow-' + i + ': 1\\r\\n'), 500);
      s.on('close', () => clearInterval(t));
    }
  });
  s.on('error', () => {});
  s.on('close', () => closed++);
}
setInterval(() => console.log('closed ' + closed), 250);
`;

function startFlood(
  port: number,
  idle: number,
  slow: number,
): { proc: ChildProcess; opened: Promise<void>; closed: () => number } {
  const proc = spawn('node', ['-e', FLOOD, String(port), String(idle), String(slow)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let closed = 0;
  let buffer = '';
  let resolveOpen: () => void = () => undefined;
  const opened = new Promise<void>((r) => (resolveOpen = r));
  proc.stdout?.on('data', (d: Buffer) => {
    buffer += d.toString('utf8');
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const l of lines) {
      if (l === 'open') resolveOpen();
      else if (l.startsWith('closed ')) closed = Number(l.slice(7));
    }
  });
  return { proc, opened, closed: () => closed };
}

function p99(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)] as number;
}

describe('limits before work: slow and idle connections', () => {
  let d: TestDaemon;
  let ecId: string;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });

  beforeAll(async () => {
    d = await startTestDaemon({
      configure: (raw) => {
        (raw.server as Record<string, unknown>).limits = { headersTimeoutMs: 2000, requestTimeoutMs: 5000 };
        (raw.logging as Record<string, unknown>).accessLog = false;
      },
    });
    const ec = d.certificates.find((c) => c.keySpec === 'EC_P256');
    if (!ec) throw new Error('no EC certificate');
    ecId = ec.id;
  });

  afterAll(async () => {
    agent.destroy();
    await d.stop();
  });

  /** Latencies (ms) of `n` sequential signing requests on one keep-alive connection, as an SDK client sends them. */
  const measure = async (n: number): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      const r = await signedPost(
        d.endpoint,
        { accessKeyId: d.accessKeyId, secret: d.accessKeySecret },
        'CertificatePrivateKeySign',
        '2016-01-20',
        { CertificateId: ecId, Algorithm: 'ECDSA_SHA_256', MessageType: 'RAW', Message: 'aGVsbG8=' },
        { agent },
      );
      out.push(Number(process.hrtime.bigint() - t0) / 1e6);
      expect(r.status).toBe(200);
    }
    return out;
  };

  it('keeps a well-behaved client within twice its unloaded p99 while 2,000 slow or idle connections are open, and cuts them at the headers timeout', async () => {
    await measure(50); // warm-up
    const unloaded = p99(await measure(300));
    const flood = startFlood(d.port, 1000, 1000);
    try {
      await flood.opened;
      const floodStart = Date.now();
      const open = (): Promise<number> =>
        new Promise((resolve, reject) => d.daemon.server.getConnections((e, n) => (e ? reject(e) : resolve(n))));
      let peak = await open();
      // Most of the 2,000 reach the daemon; some wait in the kernel's accept queue (1,369 seen once on a busy CI).
      expect(peak).toBeGreaterThan(1000);
      const loaded = p99(await measure(300));
      console.log(`p99 unloaded ${unloaded.toFixed(2)} ms, under 2,000 slow/idle connections ${loaded.toFixed(2)} ms`);
      // Every flood connection the daemon accepted is cut once the headers timeout (2 s) passes. (Connections
      // the kernel completed but whose final ACK overflowed the accept queue never reach the daemon: they cost it
      // nothing and the flood process may still count them open.)
      while (Date.now() - floodStart < 10_000 && (peak = await open()) > 1)
        await new Promise((r) => setTimeout(r, 100));
      // At most the well-behaved client's keep-alive connection remains.
      expect(peak).toBeLessThanOrEqual(1);
      expect(Date.now() - floodStart).toBeLessThan(6000);
      // The daemon side (peak <= 1 above) is the proof; the flood's own count misses connections whose final ACK
      // overflowed the accept queue (1,489 of 2,000 seen in one CI run), so it only has to show most were cut.
      expect(flood.closed()).toBeGreaterThan(1000);
      // Twice the unloaded p99, with a 25 ms floor: on two shared cores the flood process and the other suites jest
      // runs beside this one compete for the CPU (measured: 1.1-1.95x on a quiet machine; 10.8-20.9 ms against a
      // 3-4.5 ms unloaded p99 while the fault-load suite ran in parallel), and the regression this test exists for
      // (a daemon that serves the flood before the client) costs hundreds of ms to seconds, not a few ms.
      expect(loaded).toBeLessThanOrEqual(Math.max(2 * unloaded, 25));
    } finally {
      flood.proc.kill('SIGKILL');
    }
  });

  it('refuses a 30,000-parameter request before authentication, without HSTS over plain HTTP', async () => {
    // 30,000 parameters fit in the 64 KiB head the protocol needs (signatures and certificates ride in the URL).
    const flood = Array.from({ length: 30000 }, () => 'a').join('&');
    const res = await rawRequest(d.endpoint, { method: 'GET', path: `/?${flood}` });
    expect(res.status).toBe(400);
    // An unsigned request would be IncompleteSignature if authentication had run first.
    expect(JSON.parse(res.body)).toMatchObject({
      Code: 'InvalidParameter',
      Message: 'The request has 30000 parameters; at most 64 are accepted.',
    });
    expect(res.headers['strict-transport-security']).toBeUndefined();
  });
});

describe('limits before work: the connection cap', () => {
  let d: TestDaemon;

  beforeAll(async () => {
    d = await startTestDaemon({
      configure: (raw) => {
        (raw.server as Record<string, unknown>).limits = { maxConnections: 20 };
      },
    });
  });

  afterAll(async () => {
    await d.stop();
  });

  it('closes connections past server.limits.maxConnections at once, and serves again once they are gone', async () => {
    const sockets = await Promise.all(
      Array.from(
        { length: 20 },
        () =>
          new Promise<ReturnType<typeof connect>>((resolve, reject) => {
            const s = connect(d.port, '127.0.0.1', () => resolve(s));
            s.on('error', reject);
          }),
      ),
    );
    await new Promise((r) => setTimeout(r, 100));
    const refused = await rawRequest(d.endpoint, { path: '/healthz' }).then(
      (r) => `HTTP ${r.status}`,
      (e: Error & { code?: string }) => e.code ?? e.message,
    );
    expect(refused).toMatch(/ECONNRESET|socket hang up/);
    for (const s of sockets) s.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect((await rawRequest(d.endpoint, { path: '/healthz' })).status).toBe(200);
  });
});
