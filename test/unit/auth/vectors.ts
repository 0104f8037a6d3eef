/**
 * Signature test vectors from ../shared/docs/alibaba-protocol.md §5, §6 and §10: computed by the official
 * SDK (`@alicloud/openapi-core` `OpenApiUtil.getRPCSignature` / `getAuthorization`) or captured on the wire
 * from it, and re-checked by an independent implementation. Kept as data, looped by one test each.
 */
import type { ParamPair } from '../../../src/api/auth/canonicalQuery';
import type { V3Algorithm } from '../../../src/api/auth/signatureV3';

export interface V1Vector {
  name: string;
  secret: string;
  method: string;
  /** Every parameter except `Signature`, decoded. */
  params: ParamPair[];
  stringToSign: string;
  signature: string;
}

export interface V3Vector {
  name: string;
  algorithm: V3Algorithm;
  accessKeyId: string;
  secret: string;
  method: string;
  /** Decoded query pairs, wire order. */
  query: ParamPair[];
  /** Lower-case header names as node presents them (Authorization excluded). */
  headers: Record<string, string>;
  body: string;
  signedHeaders: string;
  canonicalRequest: string;
  /** Absent when the source did not print it (the signature still pins it). */
  stringToSign?: string;
  signature: string;
}

export const V1_VECTORS: readonly V1Vector[] = [
  {
    name: '§5 CAS Sign, POST',
    secret: 'testsecret',
    method: 'POST',
    params: [
      ['Action', 'Sign'],
      ['Version', '2020-04-07'],
      ['Format', 'JSON'],
      ['AccessKeyId', 'testid'],
      ['SignatureMethod', 'HMAC-SHA1'],
      ['SignatureVersion', '1.0'],
      ['SignatureNonce', '3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf'],
      ['Timestamp', '2024-01-01T12:00:00Z'],
      ['CertIdentifier', '1ef1da5f-38ed-69b3-0000-037781890265'],
      ['Message', 'MTIzNA=='],
      ['MessageType', 'RAW'],
      ['SigningAlgorithm', 'SHA256withRSA'],
    ],
    stringToSign:
      'POST&%2F&AccessKeyId%3Dtestid%26Action%3DSign%26CertIdentifier%3D1ef1da5f-38ed-69b3-0000-037781890265' +
      '%26Format%3DJSON%26Message%3DMTIzNA%253D%253D%26MessageType%3DRAW%26SignatureMethod%3DHMAC-SHA1' +
      '%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0' +
      '%26SigningAlgorithm%3DSHA256withRSA%26Timestamp%3D2024-01-01T12%253A00%253A00Z%26Version%3D2020-04-07',
    signature: 'A72rgf4pJ494p7E3PtKgqsAmcqA=',
  },
];

const SECTION6_QUERY: ParamPair[] = [
  ['CertIdentifier', '1ef1da5f-38ed-69b3-0000-037781890265'],
  ['Message', 'MTIzNA=='],
  ['MessageType', 'RAW'],
  ['SigningAlgorithm', 'SHA256withRSA'],
];
const SECTION6_CANONICAL_QUERY =
  'CertIdentifier=1ef1da5f-38ed-69b3-0000-037781890265&Message=MTIzNA%3D%3D&MessageType=RAW&SigningAlgorithm=SHA256withRSA';
const SECTION6_SIGNED_HEADERS = 'host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version';

/** Empty-body hashes (protocol §6 header table). */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
export const EMPTY_SM3 = '1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b';

function section6Headers(payloadHash: string): Record<string, string> {
  return {
    host: 'cas.aliyuncs.com',
    'x-acs-action': 'Sign',
    'x-acs-version': '2020-04-07',
    'x-acs-date': '2024-01-01T12:00:00Z',
    'x-acs-signature-nonce': 'd410180a5abf7fe235dd9b74aca91fc0',
    'x-acs-content-sha256': payloadHash,
  };
}

function section6CanonicalRequest(payloadHash: string): string {
  return [
    'POST',
    '/',
    SECTION6_CANONICAL_QUERY,
    'host:cas.aliyuncs.com',
    'x-acs-action:Sign',
    `x-acs-content-sha256:${payloadHash}`,
    'x-acs-date:2024-01-01T12:00:00Z',
    'x-acs-signature-nonce:d410180a5abf7fe235dd9b74aca91fc0',
    'x-acs-version:2020-04-07',
    '',
    SECTION6_SIGNED_HEADERS,
    payloadHash,
  ].join('\n');
}

export const V3_VECTORS: readonly V3Vector[] = [
  {
    name: '§6 CAS Sign, ACS3-HMAC-SHA256',
    algorithm: 'ACS3-HMAC-SHA256',
    accessKeyId: 'testid',
    secret: 'testsecret',
    method: 'POST',
    query: SECTION6_QUERY,
    headers: section6Headers(EMPTY_SHA256),
    body: '',
    signedHeaders: SECTION6_SIGNED_HEADERS,
    canonicalRequest: section6CanonicalRequest(EMPTY_SHA256),
    stringToSign: 'ACS3-HMAC-SHA256\n5065c57a034dd4faae476c5c6a774e4fde3153fa5df9acfb008f966bb85cecba',
    signature: '55a49a7b24f7cc6f92408b984a5727f607678a7d7225cf50e0ade357be444358',
  },
  {
    name: '§6 CAS Sign, ACS3-HMAC-SM3',
    algorithm: 'ACS3-HMAC-SM3',
    accessKeyId: 'testid',
    secret: 'testsecret',
    method: 'POST',
    query: SECTION6_QUERY,
    headers: section6Headers(EMPTY_SM3),
    body: '',
    signedHeaders: SECTION6_SIGNED_HEADERS,
    canonicalRequest: section6CanonicalRequest(EMPTY_SM3),
    stringToSign: 'ACS3-HMAC-SM3\n8fc5b3f7c57c7491a4027c0deedb5d119690bb65afd6db880193134349562cba',
    signature: 'ad6df93f84ce9af4e194b781556c97a6501481a6fcbe2e946b3008af98a8d62c',
  },
  {
    name: '§10 captured cas20200407@3.0.0 sign(), punctuation in the secret',
    algorithm: 'ACS3-HMAC-SHA256',
    accessKeyId: 'LTAI5tTESTACCESSKEYID0001',
    secret: "TestSecret/+=!*()'~0001",
    method: 'POST',
    query: SECTION6_QUERY,
    headers: {
      host: '127.0.0.1:34143',
      'x-acs-version': '2020-04-07',
      'x-acs-action': 'Sign',
      'user-agent': 'AlibabaCloud (linux; x64) Node.js/v20.20.2 Core/1.0.1 TeaDSL/2',
      'x-acs-date': '2026-11-23T11:44:29Z',
      'x-acs-signature-nonce': 'bf0af761875e8fc0bb01a1fae8da8dc95e18874f4adb88b9d4cc0687f84bfcd7',
      accept: 'application/json',
      'x-acs-content-sha256': EMPTY_SHA256,
      'x-acs-credentials-provider': 'static_ak',
    },
    body: '',
    signedHeaders:
      'host;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;x-acs-version',
    canonicalRequest: [
      'POST',
      '/',
      SECTION6_CANONICAL_QUERY,
      'host:127.0.0.1:34143',
      'x-acs-action:Sign',
      `x-acs-content-sha256:${EMPTY_SHA256}`,
      'x-acs-credentials-provider:static_ak',
      'x-acs-date:2026-11-23T11:44:29Z',
      'x-acs-signature-nonce:bf0af761875e8fc0bb01a1fae8da8dc95e18874f4adb88b9d4cc0687f84bfcd7',
      'x-acs-version:2020-04-07',
      '',
      'host;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;x-acs-version',
      EMPTY_SHA256,
    ].join('\n'),
    signature: '6bc7ee79be9250ca009bb6aec5125e41578801996dcd879e1ccc892034d32903',
  },
];

/** The special-characters capture of §10: the SDK's wire form and the canonical form it signed. */
export const SPECIAL_CHARACTERS = {
  value: "x*y'z(1)!~ +/=%&é",
  wire: 'KeyWord=x*y%27z(1)!~%20%2B%2F%3D%25%26%C3%A9',
  canonical: 'KeyWord=x%2Ay%27z%281%29%21~%20%2B%2F%3D%25%26%C3%A9',
} as const;
