/**
 * Jest `setupFiles` of the e2e project: records the message contents every client in the test process sends to a
 * daemon, whatever the client (the official SDKs and the raw helpers all go through node:http/https), so that the
 * leak check at the end of the run (test/helpers/leakCheck.ts) can look for them in the daemons' logs and audit
 * files. Only the parameters that carry contents are recorded: Message and Plaintext, as sent and, when they are
 * base64 of text, as that text. Digests are not contents: the audit log records the SHA-256 of every message signed
 * by design, so a SHA-256 digest (a `Digest`, or a DIGEST `Message` in hex or base64) is not recorded.
 * Observes only: the request is sent unchanged.
 */
import http from 'node:http';
import https from 'node:https';
import { leakDir, recordContent } from './leakCheck';
import { MIN_NEEDLE } from './leakScan';

const CONTENT_PARAMETERS = new Set(['Message', 'Plaintext']);
const RECORDING = Symbol.for('p11bridge.recordContents');

/** A SHA-256 value in hex or base64. */
const DIGEST_SHAPED = /^([0-9a-fA-F]{64}|[A-Za-z0-9+/]{43}=)$/;

function recordValue(value: string): void {
  if (value.length < MIN_NEEDLE || DIGEST_SHAPED.test(value)) return;
  recordContent(value);
  const decoded = Buffer.from(value, 'base64');
  const text = decoded.toString('utf8');
  // The decoded form counts when it is printable text (a signed "RAW" message), not random bytes.
  if (text.length >= MIN_NEEDLE && decoded.toString('base64') === value && /^[\x20-\x7e]+$/.test(text)) {
    recordContent(text);
  }
}

function recordParameters(text: string): void {
  for (const [k, v] of new URLSearchParams(text)) if (CONTENT_PARAMETERS.has(k)) recordValue(v);
}

function observe(req: http.ClientRequest): void {
  const query = req.path.indexOf('?');
  if (query >= 0) recordParameters(req.path.slice(query + 1));
  const chunks: Buffer[] = [];
  const keep = (chunk: unknown): void => {
    if (typeof chunk === 'string') chunks.push(Buffer.from(chunk));
    else if (chunk instanceof Uint8Array) chunks.push(Buffer.from(chunk));
  };
  const write = req.write.bind(req) as (...a: unknown[]) => boolean;
  const end = req.end.bind(req) as (...a: unknown[]) => http.ClientRequest;
  req.write = ((chunk: unknown, ...rest: unknown[]) => {
    keep(chunk);
    return write(chunk, ...rest);
  }) as typeof req.write;
  req.end = ((chunk?: unknown, ...rest: unknown[]) => {
    if (typeof chunk !== 'function') keep(chunk);
    const type = String(req.getHeader('content-type') ?? '');
    if (type.includes('x-www-form-urlencoded')) recordParameters(Buffer.concat(chunks).toString('utf8'));
    return end(chunk, ...rest);
  }) as typeof req.end;
}

// Once per process: node:http is shared by every test file a Jest worker runs (each file has its own globalThis),
// and setupFiles run once per file; the mark is on the module itself.
const marker = http as unknown as { [RECORDING]?: true };
if (leakDir() && !marker[RECORDING]) {
  marker[RECORDING] = true;
  for (const mod of [http, https]) {
    const request = mod.request.bind(mod) as (...a: unknown[]) => http.ClientRequest;
    (mod as { request: unknown }).request = (...args: unknown[]): http.ClientRequest => {
      const req = request(...args);
      observe(req);
      return req;
    };
  }
}
