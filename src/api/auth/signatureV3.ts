import { createHash, createHmac, hash } from 'node:crypto';

import { canonicalQuery, type ParamPair } from './canonicalQuery';

/**
 * The V3 algorithms we verify, each with the node:crypto hash behind both the payload hash, the canonical
 * request hash and the HMAC (protocol §6). `ACS3-RSA-SHA256` exists in the SDK but is not offered (§6 notes).
 */
const V3_ALGORITHMS = {
  'ACS3-HMAC-SHA256': 'sha256',
  'ACS3-HMAC-SM3': 'sm3',
} as const;

/** A V3 algorithm name from the `Authorization` header that this service supports. */
export type V3Algorithm = keyof typeof V3_ALGORITHMS;

const EMPTY_PAYLOAD_HASH: Readonly<Record<V3Algorithm, string>> = {
  'ACS3-HMAC-SHA256': createHash('sha256').digest('hex'),
  'ACS3-HMAC-SM3': createHash('sm3').digest('hex'),
};

/** Narrows an `Authorization` algorithm token to a supported {@link V3Algorithm}. */
export function isV3Algorithm(name: string): name is V3Algorithm {
  return Object.prototype.hasOwnProperty.call(V3_ALGORITHMS, name);
}

/** The parts of `Authorization: <Algorithm> Credential=..,SignedHeaders=..,Signature=..`. */
export interface V3Authorization {
  /** The first token, not yet checked against {@link V3_ALGORITHMS}. */
  algorithm: string;
  /** The AccessKeyId. */
  credential: string;
  /** The `SignedHeaders` value exactly as sent (it is signed verbatim in the canonical request). */
  signedHeaders: string;
  /** `signedHeaders` split on `;`, in the client's order. */
  signedHeaderNames: string[];
  /** The client's signature (lower-case hex from every SDK). */
  signature: string;
}

/**
 * Parses a V3 `Authorization` header; `undefined` when it is malformed (no algorithm, a part without `=`, an
 * empty or repeated `Credential`/`SignedHeaders`/`Signature`, or one of them missing).
 *
 * The SDKs write no spaces after the commas; spaces around the parts are tolerated anyway (§6 table).
 * Unknown `key=value` parts are ignored: the header is not itself signed, so they cannot change meaning.
 */
export function parseV3Authorization(header: string): V3Authorization | undefined {
  const space = header.indexOf(' ');
  if (space <= 0) return undefined;
  let credential: string | undefined;
  let signedHeaders: string | undefined;
  let signature: string | undefined;
  for (const part of header.slice(space + 1).split(',')) {
    const item = part.trim();
    const eq = item.indexOf('=');
    if (eq <= 0) return undefined;
    const value = item.slice(eq + 1);
    switch (item.slice(0, eq)) {
      case 'Credential':
        if (credential !== undefined || value === '') return undefined;
        credential = value;
        break;
      case 'SignedHeaders':
        if (signedHeaders !== undefined || value === '') return undefined;
        signedHeaders = value;
        break;
      case 'Signature':
        if (signature !== undefined || value === '') return undefined;
        signature = value;
        break;
      default:
        break;
    }
  }
  if (credential === undefined || signedHeaders === undefined || signature === undefined) return undefined;
  return {
    algorithm: header.slice(0, space),
    credential,
    signedHeaders,
    signedHeaderNames: signedHeaders.split(';'),
    signature,
  };
}

/**
 * The V3 CanonicalQueryString (protocol §6): decoded query pairs re-encoded, sorted by name,
 * `percentEncode(name)=percentEncode(value)` joined by `&` — the same canonical form as V1, so one function.
 *
 * The SDK encodes only values, the documentation both names and values; the two agree for the ASCII
 * alphanumeric (and `.`) names of these APIs.
 */
export function v3CanonicalQuery(pairs: readonly ParamPair[]): string {
  return canonicalQuery(pairs);
}

/** Node's parsed headers: lower-case names; an array only where node keeps repeats apart. */
export type HeaderBag = Readonly<Record<string, string | readonly string[] | undefined>>;

/**
 * The V3 CanonicalHeaders for the client's `SignedHeaders` list, in that list's order: `name:trim(value)\n`
 * per header. Repeated values (an array) are trimmed, sorted and joined with `,`, as the SDK does when it
 * merges headers that differ only by case. `undefined` when a listed header is absent from the request
 * (the caller answers `IncompleteSignature`): a listed header cannot be signed as empty if it was not sent.
 *
 * Names are looked up as listed; node lower-cases header names and so do the SDKs, so an upper-case name in
 * `SignedHeaders` is simply not found.
 */
export function v3CanonicalHeaders(signedHeaderNames: readonly string[], headers: HeaderBag): string | undefined {
  let out = '';
  for (const name of signedHeaderNames) {
    const value = headers[name];
    if (value === undefined) return undefined;
    if (typeof value === 'string') {
      out += name + ':' + value.trim() + '\n';
    } else {
      if (value.length === 0) return undefined;
      out +=
        name +
        ':' +
        value
          .map((v) => v.trim())
          .sort()
          .join(',') +
        '\n';
    }
  }
  return out;
}

/** The inputs of {@link v3CanonicalRequest}, all already canonical. */
export interface V3CanonicalRequestParts {
  /** Upper-case HTTP method as received. */
  method: string;
  /** From {@link v3CanonicalQuery}. */
  canonicalQuery: string;
  /** From {@link v3CanonicalHeaders} (each line ends with `\n`). */
  canonicalHeaders: string;
  /** The `SignedHeaders` value, `;`-joined. */
  signedHeaders: string;
  /** Lower-case hex hash of the body, {@link v3PayloadHash}. */
  payloadHash: string;
}

/**
 * The V3 CanonicalRequest (protocol §6): method, URI, query, headers, signed headers and payload hash,
 * separated by `\n`. The URI is always `/` for RPC-style APIs. Because every canonical header line ends with
 * `\n`, a blank line precedes the signed-headers line, exactly as in the §6 vector.
 */
export function v3CanonicalRequest(parts: V3CanonicalRequestParts): string {
  const { method, canonicalQuery: query, canonicalHeaders: headers, signedHeaders, payloadHash } = parts;
  return `${method}\n/\n${query}\n${headers}\n${signedHeaders}\n${payloadHash}`;
}

/** The V3 StringToSign (protocol §6): `algorithm + "\n" + hex(hash(UTF-8 canonicalRequest))`. */
export function v3StringToSign(algorithm: V3Algorithm, canonicalRequest: string): string {
  // One-shot crypto.hash: half the cost of a Hash object for a string this size (it runs on every request).
  return algorithm + '\n' + hash(V3_ALGORITHMS[algorithm], canonicalRequest, 'hex');
}

/**
 * The V3 signature (protocol §6): lower-case hex HMAC (SHA-256 or SM3 per `algorithm`) of the string to
 * sign, keyed with the raw secret — unlike V1, no `&` is appended. The caller compares in constant time.
 */
export function v3Signature(algorithm: V3Algorithm, secret: string, stringToSign: string): string {
  return createHmac(V3_ALGORITHMS[algorithm], secret).update(stringToSign, 'utf8').digest('hex');
}

/**
 * The V3 payload hash (protocol §6, header `x-acs-content-sha256`): lower-case hex SHA-256 or SM3 of the raw
 * body bytes. The header keeps its `sha256` name under `ACS3-HMAC-SM3` (§0 item 9). A string is hashed as
 * UTF-8 (the client-side signer's form bodies).
 */
export function v3PayloadHash(algorithm: V3Algorithm, body: Buffer | string): string {
  // Most SDK requests have an empty body (§0 item 3): answer those from a table.
  if (body.length === 0) return EMPTY_PAYLOAD_HASH[algorithm];
  const hash = createHash(V3_ALGORITHMS[algorithm]);
  if (typeof body === 'string') hash.update(body, 'utf8');
  else hash.update(body);
  return hash.digest('hex');
}
