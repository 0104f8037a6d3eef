import autocannon from 'autocannon';
import { createPublicKey, randomUUID, verify } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { performance } from 'node:perf_hooks';
import { signV3Request, type SignedV3Request } from '../helpers/signRequest';
import { LatencyRecorder } from './stats';

/**
 * The transport of every load generator: plain HTTP, or HTTPS trusting the demo CA (`--tls`). Set once by
 * run.ts before any load starts.
 */
let trustedCa: string | undefined;

/** Switches every load generator to HTTPS, trusting `ca` (PEM). */
export function useTls(ca: string): void {
  trustedCa = ca;
}

const request: typeof httpRequest = ((...args: Parameters<typeof httpRequest>) =>
  trustedCa ? httpsRequest(...(args as Parameters<typeof httpsRequest>)) : httpRequest(...args)) as typeof httpRequest;

function keepAliveAgent(): HttpAgent {
  return trustedCa
    ? (new HttpsAgent({ keepAlive: true, maxSockets: 256, ca: trustedCa }) as unknown as HttpAgent)
    : new HttpAgent({ keepAlive: true, maxSockets: 256 });
}

/** KMS `CertificatePrivateKeySign` as the official SDK sends it: V3 (ACS3-HMAC-SHA256), parameters in the query. */
export interface SignRequestSpec {
  readonly port: number;
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  readonly certificateId: string;
  /** KMS algorithm name. */
  readonly algorithm: string;
  readonly messageBase64: string;
}

/**
 * Returns a function that builds one correctly signed V3 request per call: a fresh nonce every time, the
 * date of the current second. Every request the benchmark sends to either server comes from here, so both
 * servers receive the same bytes (the reference simply does not check the signature).
 */
export function signedRequests(spec: SignRequestSpec): () => SignedV3Request {
  const host = `127.0.0.1:${spec.port}`;
  const query = {
    CertificateId: spec.certificateId,
    Algorithm: spec.algorithm,
    MessageType: 'RAW',
    Message: spec.messageBase64,
  };
  let second = -1;
  let date = '';
  return () => {
    const s = Math.floor(Date.now() / 1000);
    if (s !== second) {
      second = s;
      date = new Date(s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    }
    return signV3Request({
      method: 'POST',
      host,
      query,
      action: 'CertificatePrivateKeySign',
      version: '2016-01-20',
      accessKeyId: spec.accessKeyId,
      secret: spec.accessKeySecret,
      date,
      nonce: randomUUID(),
    });
  };
}

/** What one load cell measured on the client side. */
export interface LoadResult {
  /** 2xx answers, counted in the measured window only. */
  readonly ok: number;
  readonly non2xx: number;
  /** Connection errors and timeouts. */
  readonly errors: number;
  readonly elapsedMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** CPU time the load generator itself spent per 2xx answer (it shares the cores with the server), µs. */
  readonly loadgenCpuUsPerReq: number;
  /** Fixed rate only: the latest a request left after its scheduled time (the generator's own lag), ms. */
  readonly maxSendLagMs?: number;
}

/**
 * Closed loop with autocannon: `connections` keep-alive connections, each sending its next request as soon as
 * the previous answer arrived. Latency is autocannon's per-response time (send → last byte), in µs precision.
 */
export function closedLoop(opts: {
  port: number;
  connections: number;
  durationS: number;
  next: () => SignedV3Request;
}): Promise<LoadResult> {
  const rec = new LatencyRecorder();
  let ok = 0;
  let non2xx = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${trustedCa ? 'https' : 'http'}://127.0.0.1:${opts.port}`,
        ...(trustedCa ? { tlsOptions: { ca: trustedCa } } : {}),
        connections: opts.connections,
        duration: opts.durationS,
        method: 'POST',
        requests: [
          {
            setupRequest: (req) => {
              const signed = opts.next();
              return { ...req, path: signed.path, headers: signed.headers };
            },
          },
        ],
      },
      (err, result) => {
        if (err) return reject(err);
        const elapsedMs = performance.now() - t0;
        const cpu = process.cpuUsage(cpu0);
        resolve({
          ok,
          non2xx,
          errors: result.errors,
          elapsedMs,
          ...rec.summary(),
          loadgenCpuUsPerReq: ok > 0 ? (cpu.user + cpu.system) / ok : 0,
        });
      },
    );
    instance.on('response', (_client: unknown, status: number, _bytes: number, responseTimeMs: number) => {
      if (status >= 200 && status < 300) {
        ok++;
        rec.record(responseTimeMs);
      } else {
        non2xx++;
      }
    });
  });
}

/**
 * Open loop at a fixed rate (autocannon's `overallRate` is not one: each connection fires its whole quota at
 * the start of every second, so it measures bursts). Request i is due at `t0 + i / rate` and is sent then,
 * whatever is still outstanding, on a keep-alive connection of a pool that grows as needed: a slow answer never
 * delays the next send, so latency (send → last byte of the answer) cannot hide a queue (no coordinated
 * omission). The timer fires up to ~1 ms late; that lag is reported apart rather than added to the latency.
 */
export function fixedRate(opts: {
  port: number;
  rate: number;
  durationS: number;
  next: () => SignedV3Request;
}): Promise<LoadResult> {
  const agent = keepAliveAgent();
  const intervalMs = 1000 / opts.rate;
  const total = Math.max(1, Math.round(opts.rate * opts.durationS));
  const rec = new LatencyRecorder();
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let sent = 0;
  let settled = 0;
  let maxSendLagMs = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  return new Promise((resolve) => {
    const settle = (): void => {
      if (++settled < total) return;
      agent.destroy();
      const cpu = process.cpuUsage(cpu0);
      resolve({
        ok,
        non2xx,
        errors,
        elapsedMs: performance.now() - t0,
        ...rec.summary(),
        loadgenCpuUsPerReq: ok > 0 ? (cpu.user + cpu.system) / ok : 0,
        maxSendLagMs,
      });
    };
    const fire = (scheduled: number): void => {
      const signed = opts.next();
      const sentAt = performance.now();
      maxSendLagMs = Math.max(maxSendLagMs, sentAt - scheduled);
      const req = request(
        { agent, host: '127.0.0.1', port: opts.port, method: 'POST', path: signed.path, headers: signed.headers },
        (res) => {
          res.resume();
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) {
              ok++;
              rec.record(performance.now() - sentAt);
            } else {
              non2xx++;
            }
            settle();
          });
        },
      );
      req.setTimeout(10000, () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        errors++;
        settle();
      });
      req.end();
    };
    const tick = (): void => {
      const due = Math.min(total, Math.floor((performance.now() - t0) / intervalMs) + 1);
      while (sent < due) fire(t0 + sent++ * intervalMs);
      if (sent < total) setTimeout(tick, Math.max(0, t0 + sent * intervalMs - performance.now()));
    };
    tick();
  });
}

/**
 * Sends one signed request and checks the answer end to end: HTTP 200, the certificate id, and a
 * `SignatureValue` that verifies over the message with the certificate's public key (ECDSA as DER, as the
 * cloud returns it). Throws with the server's answer otherwise.
 */
export function probe(opts: {
  port: number;
  next: () => SignedV3Request;
  certificatePem: string;
  message: Buffer;
}): Promise<void> {
  const signed = opts.next();
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: opts.port,
        method: 'POST',
        path: signed.path,
        headers: signed.headers,
        ...(trustedCa ? { ca: trustedCa } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode ?? '?'}`);
            const body = JSON.parse(text) as { SignatureValue?: unknown };
            if (typeof body.SignatureValue !== 'string') throw new Error('no SignatureValue');
            const key = createPublicKey(opts.certificatePem);
            const good = verify(
              'sha256',
              opts.message,
              { key, dsaEncoding: 'der' },
              Buffer.from(body.SignatureValue, 'base64'),
            );
            if (!good) throw new Error('the signature does not verify');
            resolve();
          } catch (e) {
            reject(new Error(`probe on port ${opts.port} failed (${(e as Error).message}): ${text.slice(0, 300)}`));
          }
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}
