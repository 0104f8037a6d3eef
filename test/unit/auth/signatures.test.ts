import {
  isV3Algorithm,
  parseV3Authorization,
  v3CanonicalHeaders,
  v3CanonicalQuery,
  v3CanonicalRequest,
  v3PayloadHash,
  v3Signature,
  v3StringToSign,
} from '../../../src/api/auth/signatureV3';
import { v1Signature, v1StringToSign } from '../../../src/api/auth/signatureV1';
import { EMPTY_SHA256, EMPTY_SM3, V1_VECTORS, V3_VECTORS } from './vectors';

describe('V1 signature (HMAC-SHA1)', () => {
  it.each(V1_VECTORS.map((v) => [v.name, v] as const))('reproduces the vector %s', (_name, v) => {
    const stringToSign = v1StringToSign(v.method, v.params);
    expect(stringToSign).toBe(v.stringToSign);
    expect(v1Signature(v.secret, stringToSign)).toBe(v.signature);
  });

  it('does not depend on the order the parameters arrive in', () => {
    const v = V1_VECTORS[0]!;
    expect(v1StringToSign(v.method, [...v.params].reverse())).toBe(v.stringToSign);
  });

  it('keys the HMAC with secret + "&"', () => {
    const v = V1_VECTORS[0]!;
    expect(v1Signature(v.secret + 'x', v.stringToSign)).not.toBe(v.signature);
  });
});

describe('V3 signature (ACS3-HMAC-SHA256 / ACS3-HMAC-SM3)', () => {
  it.each(V3_VECTORS.map((v) => [v.name, v] as const))('reproduces the vector %s', (_name, v) => {
    const payloadHash = v3PayloadHash(v.algorithm, Buffer.from(v.body));
    expect(payloadHash).toBe(v.headers['x-acs-content-sha256']);
    const canonicalHeaders = v3CanonicalHeaders(v.signedHeaders.split(';'), v.headers);
    expect(canonicalHeaders).toBeDefined();
    const canonicalRequest = v3CanonicalRequest({
      method: v.method,
      canonicalQuery: v3CanonicalQuery(v.query),
      canonicalHeaders: canonicalHeaders ?? '',
      signedHeaders: v.signedHeaders,
      payloadHash,
    });
    expect(canonicalRequest).toBe(v.canonicalRequest);
    const stringToSign = v3StringToSign(v.algorithm, canonicalRequest);
    if (v.stringToSign !== undefined) expect(stringToSign).toBe(v.stringToSign);
    expect(v3Signature(v.algorithm, v.secret, stringToSign)).toBe(v.signature);
  });

  it('hashes an empty body to the documented SHA-256 and SM3 values', () => {
    expect(v3PayloadHash('ACS3-HMAC-SHA256', Buffer.alloc(0))).toBe(EMPTY_SHA256);
    expect(v3PayloadHash('ACS3-HMAC-SM3', Buffer.alloc(0))).toBe(EMPTY_SM3);
    expect(v3PayloadHash('ACS3-HMAC-SM3', '')).toBe(EMPTY_SM3);
  });

  it('hashes a string body as its UTF-8 bytes', () => {
    expect(v3PayloadHash('ACS3-HMAC-SHA256', 'é')).toBe(v3PayloadHash('ACS3-HMAC-SHA256', Buffer.from('c3a9', 'hex')));
  });

  it('knows exactly the two HMAC algorithms', () => {
    expect(isV3Algorithm('ACS3-HMAC-SHA256')).toBe(true);
    expect(isV3Algorithm('ACS3-HMAC-SM3')).toBe(true);
    expect(isV3Algorithm('ACS3-RSA-SHA256')).toBe(false);
    expect(isV3Algorithm('toString')).toBe(false);
  });
});

describe('parseV3Authorization', () => {
  const sdk =
    'ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;' +
    'x-acs-signature-nonce;x-acs-version,Signature=55a49a7b24f7cc6f92408b984a5727f607678a7d7225cf50e0ade357be444358';

  it('reads the header the SDK writes', () => {
    expect(parseV3Authorization(sdk)).toEqual({
      algorithm: 'ACS3-HMAC-SHA256',
      credential: 'testid',
      signedHeaders: 'host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version',
      signedHeaderNames: [
        'host',
        'x-acs-action',
        'x-acs-content-sha256',
        'x-acs-date',
        'x-acs-signature-nonce',
        'x-acs-version',
      ],
      signature: '55a49a7b24f7cc6f92408b984a5727f607678a7d7225cf50e0ade357be444358',
    });
  });

  it('tolerates spaces after the commas and around the parts', () => {
    const spaced = 'ACS3-HMAC-SM3  Credential=ak, SignedHeaders=host;x-acs-date ,  Signature=ab';
    expect(parseV3Authorization(spaced)).toMatchObject({
      algorithm: 'ACS3-HMAC-SM3',
      credential: 'ak',
      signedHeaderNames: ['host', 'x-acs-date'],
      signature: 'ab',
    });
  });

  it('accepts the parts in any order and ignores unknown ones', () => {
    expect(
      parseV3Authorization('ACS3-HMAC-SHA256 Signature=ab,Future=1,SignedHeaders=host,Credential=ak'),
    ).toMatchObject({ credential: 'ak', signedHeaders: 'host', signature: 'ab' });
  });

  it.each([
    ['no space after the algorithm', 'ACS3-HMAC-SHA256'],
    ['a missing Signature', 'ACS3-HMAC-SHA256 Credential=ak,SignedHeaders=host'],
    ['a missing Credential', 'ACS3-HMAC-SHA256 SignedHeaders=host,Signature=ab'],
    ['a missing SignedHeaders', 'ACS3-HMAC-SHA256 Credential=ak,Signature=ab'],
    ['an empty Credential', 'ACS3-HMAC-SHA256 Credential=,SignedHeaders=host,Signature=ab'],
    ['a repeated Signature', 'ACS3-HMAC-SHA256 Credential=ak,SignedHeaders=host,Signature=ab,Signature=cd'],
    ['a part without =', 'ACS3-HMAC-SHA256 Credential=ak,SignedHeaders=host,Signature'],
    ['a trailing comma', 'ACS3-HMAC-SHA256 Credential=ak,SignedHeaders=host,Signature=ab,'],
  ])('rejects %s', (_behaviour, header) => {
    expect(parseV3Authorization(header)).toBeUndefined();
  });
});

describe('v3CanonicalHeaders', () => {
  it('follows the SignedHeaders order and trims values', () => {
    expect(v3CanonicalHeaders(['host', 'x-acs-date'], { 'x-acs-date': '  d ', host: ' h' })).toBe(
      'host:h\nx-acs-date:d\n',
    );
  });

  it('joins repeated values with a comma after trimming and sorting them, as the SDK does', () => {
    expect(v3CanonicalHeaders(['x-acs-meta'], { 'x-acs-meta': [' b', 'a '] })).toBe('x-acs-meta:a,b\n');
  });

  it('is undefined when a listed header was not sent', () => {
    expect(v3CanonicalHeaders(['host', 'x-acs-date'], { host: 'h' })).toBeUndefined();
  });

  it('does not find a header listed in upper case (node lower-cases names)', () => {
    expect(v3CanonicalHeaders(['Host'], { host: 'h' })).toBeUndefined();
  });
});
