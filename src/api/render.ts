import type { ServerResponse } from 'node:http';
import type { ApiError } from '../errors/apiError';
import type { Product } from '../ops/types';
import { inProductTerms } from './productErrors';

export type Format = 'JSON' | 'XML';

/**
 * Headers on every RPC answer: what helmet would set for an API (no HTML is ever served here), computed once.
 * The RPC path answers with plain `node:http` calls to stay lean (issue 7); Express and helmet serve the rest.
 */
const STATIC_HEADERS: Array<[string, string]> = [
  ['x-content-type-options', 'nosniff'],
  ['x-frame-options', 'SAMEORIGIN'],
  ['content-security-policy', "default-src 'none'; frame-ancestors 'none'"],
  ['cross-origin-resource-policy', 'same-origin'],
  ['referrer-policy', 'no-referrer'],
  ['cache-control', 'no-store'],
];

const HSTS = ['strict-transport-security', 'max-age=31536000; includeSubDomains'] as const;

const JSON_TYPE = 'application/json;charset=utf-8';
/** Exactly this string: openapi-core parses XML errors only for it (protocol §8.4). */
const XML_TYPE = 'text/xml;charset=utf-8';

/** Writes a success body: `{...fields, RequestId}` as JSON, or `<{Action}Response>` as XML. */
export function sendSuccess(
  res: ServerResponse,
  format: Format,
  action: string,
  requestId: string,
  fields: Record<string, unknown>,
): void {
  const body = { ...fields, RequestId: requestId };
  const payload = format === 'XML' ? xmlDocument(`${action}Response`, body) : JSON.stringify(body);
  send(res, 200, format, requestId, payload);
}

/** The product name in the Recommend link, as the cloud spells it; KMS when the request named no product. */
const RECOMMEND_PRODUCT: Readonly<Record<Product, string>> = { kms: 'Kms', cas: 'cas' };

/**
 * Writes the cloud error envelope `{RequestId, HostId, Code, Message, Recommend}` (+ extra fields), with the code
 * the request's product uses (src/api/productErrors.ts). Returns the error as rendered (for the access log).
 */
export function sendError(
  res: ServerResponse,
  format: Format,
  requestId: string,
  hostId: string,
  product: Product | undefined,
  thrown: ApiError,
): ApiError {
  const err = inProductTerms(thrown, product);
  const linkProduct = RECOMMEND_PRODUCT[product ?? 'kms'];
  const envelope: Record<string, unknown> = {
    RequestId: requestId,
    HostId: hostId,
    Code: err.code,
    Message: err.message,
    Recommend: `https://api.aliyun.com/troubleshoot?q=${encodeURIComponent(err.code)}&product=${linkProduct}&requestId=${requestId}`,
    ...err.extra,
  };
  const payload = format === 'XML' ? xmlDocument('Error', envelope) : JSON.stringify(envelope);
  send(res, err.status, format, requestId, payload, err.headers);
  return err;
}

/** The static headers as a flat [name, value, …] list, ready for one writeHead (no per-header validation). */
const STATIC_FLAT: readonly string[] = STATIC_HEADERS.flat();

function send(
  res: ServerResponse,
  status: number,
  format: Format,
  requestId: string,
  payload: string,
  extra?: Record<string, string>,
): void {
  if (res.headersSent) return;
  const headers = STATIC_FLAT.concat(
    'content-type',
    format === 'XML' ? XML_TYPE : JSON_TYPE,
    'x-acs-request-id',
    requestId,
    'content-length',
    String(Buffer.byteLength(payload)),
  );
  if (extra) for (const [k, v] of Object.entries(extra)) headers.push(k, v);
  // HSTS only over TLS (issue 16): a TLSSocket has `encrypted`; a plain socket does not.
  if ((res.socket as { encrypted?: boolean } | null)?.encrypted === true) headers.push(HSTS[0], HSTS[1]);
  res.writeHead(status, headers);
  res.end(payload);
}

/** `<?xml …?><root>…</root>`: one element per field, arrays as repeated elements named after the field. */
function xmlDocument(root: string, fields: Record<string, unknown>): string {
  return `<?xml version='1.0' encoding='UTF-8'?><${root}>${xmlFields(fields)}</${root}>`;
}

function xmlFields(fields: Record<string, unknown>): string {
  let out = '';
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v)) for (const item of v) out += xmlElement(k, item);
    else out += xmlElement(k, v);
  }
  return out;
}

function xmlElement(name: string, v: unknown): string {
  if (v !== null && typeof v === 'object') return `<${name}>${xmlFields(v as Record<string, unknown>)}</${name}>`;
  return `<${name}>${xmlEscape(String(v))}</${name}>`;
}

function xmlEscape(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}
