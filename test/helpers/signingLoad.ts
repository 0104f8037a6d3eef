import { constants, verify, type KeyObject } from 'node:crypto';
import { Agent, request, type ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { signV3Request } from './signRequest';
import { acsDate } from './rawClient';
import { CAS_VERSION, KMS_VERSION } from './clients';

/** One stream of the load: one keep-alive connection sending one kind of signing request. */
export interface LoadStream {
  readonly product: 'kms' | 'cas';
  /** KMS CertificateId / CAS CertIdentifier. */
  readonly id: string;
  /** KMS `Algorithm` (ECDSA_SHA_256, RSA_PKCS1_SHA_256) or CAS `SigningAlgorithm` (SHA256withECDSA, SHA256withRSA). */
  readonly algorithm: string;
}

/** One request as the client saw it (times from performance.now()). */
export interface Sample {
  readonly stream: number;
  /** Serial number of the TCP connection it went on (a reset connection is replaced by a new one). */
  socket: number;
  readonly start: number;
  end: number;
  status?: number;
  code?: string;
  requestId?: string;
  /** Network error (a reset, a hang-up) or the client's own timeout. */
  error?: string;
  /** For a 200: the index in `keys(id)` of the public key that verified the signature; -1: none did. */
  verifiedBy?: number;
  /** For a 200: what was signed and the signature, to verify again later (`verifyAgain`). */
  message?: Buffer;
  signature?: Buffer;
}

export interface LoadOptions {
  readonly port: number;
  readonly accessKeyId: string;
  readonly secret: string;
  readonly streams: readonly LoadStream[];
  /** Requests per second per stream (paced; a slow answer is not made up for). */
  readonly ratePerStream: number;
  /** The public keys a signature of this identity may verify with (read at each answer: a test may add one). */
  readonly keys: (id: string) => readonly KeyObject[];
  /** The client gives up on an answer after this long (recorded as an error, not awaited forever). */
  readonly clientTimeoutMs?: number;
}

export interface RunningLoad {
  readonly samples: readonly Sample[];
  /** Stops sending; resolves with every sample once the requests in flight are answered (or time out). */
  stop(): Promise<Sample[]>;
}

/** Whether `key` verifies this stream's signature of `message` (PSS with a 32-byte salt for the PSS algorithms). */
export function sigVerifies(s: LoadStream, message: Buffer, signature: Buffer, key: KeyObject): boolean {
  const pss = s.algorithm === 'RSA_PSS_SHA_256' || s.algorithm === 'SHA256withRSA/PSS';
  return verify(
    'sha256',
    message,
    pss ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : key,
    signature,
  );
}

/**
 * A steady load of V3-signed signing requests (KMS CertificatePrivateKeySign and CAS Sign, RAW messages), one
 * keep-alive connection per stream, as a client library with a connection pool sends them. Every 200's signature is
 * verified at once with node:crypto against the identity's public keys known then (and kept, so that a test that
 * learns a key later can verify it again); every answer is kept as a Sample.
 */
export function startSigningLoad(opts: LoadOptions): RunningLoad {
  const samples: Sample[] = [];
  const socketIds = new WeakMap<Socket, number>();
  let nextSocket = 0;
  let running = true;
  const interval = 1000 / opts.ratePerStream;
  const agents = opts.streams.map(() => new Agent({ keepAlive: true, maxSockets: 1 }));

  const one = (index: number, n: number): Promise<void> => {
    const s = opts.streams[index] as LoadStream;
    const text = `load ${index} ${n} ${randomUUID()}`;
    const message = Buffer.from(text, 'utf8');
    const query: Record<string, string> =
      s.product === 'kms'
        ? { CertificateId: s.id, Algorithm: s.algorithm, MessageType: 'RAW', Message: message.toString('base64') }
        : { CertIdentifier: s.id, SigningAlgorithm: s.algorithm, MessageType: 'RAW', Message: text };
    const signed = signV3Request({
      method: 'POST',
      host: `127.0.0.1:${opts.port}`,
      query,
      action: s.product === 'kms' ? 'CertificatePrivateKeySign' : 'Sign',
      version: s.product === 'kms' ? KMS_VERSION : CAS_VERSION,
      accessKeyId: opts.accessKeyId,
      secret: opts.secret,
      date: acsDate(),
      nonce: randomUUID(),
    });
    const sample: Sample = { stream: index, socket: 0, start: performance.now(), end: 0 };
    samples.push(sample);
    return new Promise<void>((resolve) => {
      let req: ClientRequest | undefined = undefined;
      const done = (): void => {
        if (sample.end === 0) sample.end = performance.now();
        resolve();
      };
      req = request(
        {
          host: '127.0.0.1',
          port: opts.port,
          method: 'POST',
          path: signed.path,
          headers: { ...signed.headers, 'content-length': '0' },
          agent: agents[index],
          timeout: opts.clientTimeoutMs ?? 10000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (e) => {
            sample.error = e.message;
            done();
          });
          res.on('end', () => {
            sample.end = performance.now();
            sample.status = res.statusCode ?? 0;
            try {
              const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
              sample.requestId = typeof body.RequestId === 'string' ? body.RequestId : undefined;
              if (sample.status === 200) {
                const b64 = s.product === 'kms' ? body.SignatureValue : body.Signature;
                const signature = Buffer.from(String(b64), 'base64');
                sample.message = message;
                sample.signature = signature;
                sample.verifiedBy = opts.keys(s.id).findIndex((k) => sigVerifies(s, message, signature, k));
              } else {
                sample.code = typeof body.Code === 'string' ? body.Code : undefined;
              }
            } catch {
              sample.code = '(not JSON)';
            }
            done();
          });
        },
      );
      req.on('socket', (sock: Socket) => {
        let id = socketIds.get(sock);
        if (id === undefined) socketIds.set(sock, (id = ++nextSocket));
        sample.socket = id;
      });
      req.on('timeout', () => req?.destroy(new Error('client timeout')));
      req.on('error', (e: NodeJS.ErrnoException) => {
        sample.error = e.code ?? e.message;
        done();
      });
      req.end();
    });
  };

  const loops = opts.streams.map(async (_s, index) => {
    for (let n = 0; running; n++) {
      const t0 = performance.now();
      await one(index, n);
      const wait = interval - (performance.now() - t0);
      if (wait > 0) await delay(wait);
    }
  });

  return {
    samples,
    async stop() {
      running = false;
      await Promise.all(loops);
      for (const a of agents) a.destroy();
      return samples;
    },
  };
}

/** The p-quantile (0..1) of a list of numbers (nearest rank); 0 for an empty list. */
export function quantile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number;
}
