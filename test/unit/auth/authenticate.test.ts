import {
  authenticate,
  requestedFormat,
  type AccessKeyRecord,
  type AuthDeps,
  type RpcRequestView,
} from '../../../src/api/auth/authenticate';
import { canonicalQuery } from '../../../src/api/auth/canonicalQuery';
import { percentEncode } from '../../../src/api/auth/percentEncode';
import { NonceCache } from '../../../src/api/auth/replayCache';
import { signV1Query, signV3Request, type SignV3RequestInput } from '../../helpers/signRequest';
import { v1Signature, v1StringToSign } from '../../../src/api/auth/signatureV1';
import type { V3Algorithm } from '../../../src/api/auth/signatureV3';
import { ApiError } from '../../../src/errors/apiError';
import { requestView } from './requestView';
import { V1_VECTORS, V3_VECTORS } from './vectors';

const T0 = Date.UTC(2024, 0, 1, 12);
const MINUTE = 60_000;
const CAS = '2020-04-07';
const BUSINESS = {
  CertIdentifier: '1ef1da5f-38ed-69b3-0000-037781890265',
  Message: 'MTIzNA==',
  MessageType: 'RAW',
  SigningAlgorithm: 'SHA256withRSA',
};

const KEYS: Record<string, AccessKeyRecord> = {
  ak1: { id: 'ak1', secret: "s3cret/+=!*()'~", enabled: true },
  ak2: { id: 'ak2', secret: 'another-secret', enabled: true },
  akOff: { id: 'akOff', secret: 'disabled-secret', enabled: false },
  testid: { id: 'testid', secret: 'testsecret', enabled: true },
  LTAI5tTESTACCESSKEYID0001: { id: 'LTAI5tTESTACCESSKEYID0001', secret: "TestSecret/+=!*()'~0001", enabled: true },
};

/** The daemon's collaborators with a clock the test moves by hand. */
function world(now = T0): { deps: AuthDeps; clock: { now: number } } {
  const clock = { now };
  const deps: AuthDeps = {
    findAccessKey: (id) => KEYS[id],
    now: () => clock.now,
    nonces: new NonceCache({ now: () => clock.now }),
  };
  return { deps, clock };
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

let nonceCounter = 0;
function freshNonce(): string {
  nonceCounter++;
  return `nonce-${nonceCounter}`;
}

interface V1Options {
  method?: string;
  /** Where the SDK puts the parameters: pop-core GET/tea SDKs in the query, pop-core POST in a form body. */
  where?: 'query' | 'body';
  accessKeyId?: string;
  secret?: string;
  timestamp?: string;
  nonce?: string;
  params?: Record<string, string>;
}

/** A V1 request signed the way pop-core does it. */
function v1Request(o: V1Options = {}): RpcRequestView {
  const accessKeyId = o.accessKeyId ?? 'ak1';
  const method = o.method ?? (o.where === 'body' ? 'POST' : 'GET');
  const signed = signV1Query({
    method,
    params: o.params ?? BUSINESS,
    action: 'Sign',
    version: CAS,
    accessKeyId,
    secret: o.secret ?? KEYS[accessKeyId]?.secret ?? 'whatever',
    timestamp: o.timestamp ?? iso(T0),
    nonce: o.nonce ?? freshNonce(),
  });
  if (o.where === 'body') {
    return requestView({
      method,
      path: '/',
      headers: { host: 'cas.local', 'content-type': 'application/x-www-form-urlencoded' },
      body: signed,
    });
  }
  return requestView({ method, path: '/?' + signed, headers: { host: 'cas.local' } });
}

type V3Options = Partial<SignV3RequestInput>;

/** A V3 request signed the way openapi-core does it (parameters in the query, the rest in headers). */
function v3Request(o: V3Options = {}): RpcRequestView {
  const accessKeyId = o.accessKeyId ?? 'ak1';
  const input: SignV3RequestInput = {
    method: 'POST',
    host: '127.0.0.1:8443',
    query: BUSINESS,
    action: 'Sign',
    version: CAS,
    accessKeyId,
    secret: KEYS[accessKeyId]?.secret ?? 'whatever',
    date: iso(T0),
    nonce: freshNonce(),
    ...o,
  };
  const signed = signV3Request(input);
  return requestView({ method: input.method, path: signed.path, headers: signed.headers, body: input.body ?? '' });
}

function errorCode(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError) return error.code;
    throw error;
  }
  return undefined;
}

function thrownError(run: () => unknown): ApiError {
  try {
    run();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected an ApiError');
}

describe('authenticate: V1 (HMAC-SHA1)', () => {
  it('accepts a GET with every parameter in the query and returns caller, action and business parameters', () => {
    const { deps } = world();
    const result = authenticate(v1Request(), deps);
    expect(result).toEqual({
      scheme: 'V1',
      signatureMethod: 'HMAC-SHA1',
      accessKeyId: 'ak1',
      action: 'Sign',
      version: CAS,
      params: new Map(Object.entries(BUSINESS)),
    });
  });

  it('accepts a POST with every parameter, Signature included, in a form body', () => {
    const { deps } = world();
    const result = authenticate(v1Request({ where: 'body' }), deps);
    expect(result.accessKeyId).toBe('ak1');
    expect(result.params).toEqual(new Map(Object.entries(BUSINESS)));
  });

  it('accepts a bodyless POST with the parameters in the query, as the tea SDKs send it', () => {
    const { deps } = world();
    expect(authenticate(v1Request({ method: 'POST' }), deps).scheme).toBe('V1');
  });

  it('accepts common parameters in the query and business parameters in a form body, signed together', () => {
    const { deps } = world();
    const pairs: Array<[string, string]> = [
      ['Action', 'Sign'],
      ['Version', CAS],
      ['Format', 'JSON'],
      ['AccessKeyId', 'ak1'],
      ['SignatureMethod', 'HMAC-SHA1'],
      ['SignatureVersion', '1.0'],
      ['SignatureNonce', freshNonce()],
      ['Timestamp', iso(T0)],
    ];
    const body: Array<[string, string]> = Object.entries(BUSINESS);
    const signature = v1Signature(KEYS.ak1!.secret, v1StringToSign('POST', [...pairs, ...body]));
    const req = requestView({
      method: 'POST',
      path: '/?' + canonicalQuery(pairs) + '&Signature=' + percentEncode(signature),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: canonicalQuery(body),
    });
    expect(authenticate(req, deps).params).toEqual(new Map(body));
  });

  it('accepts the §5 vector request signed by the SDK', () => {
    const v = V1_VECTORS[0]!;
    const { deps } = world(Date.UTC(2024, 0, 1, 12, 5));
    const req = requestView({
      method: v.method,
      path: '/?' + canonicalQuery(v.params) + '&Signature=' + percentEncode(v.signature),
    });
    expect(authenticate(req, deps)).toMatchObject({ accessKeyId: 'testid', action: 'Sign', version: CAS });
  });

  it('accepts SignatureMethod in any case (docs also show Hmac-SHA1)', () => {
    const { deps } = world();
    const pairs: Array<[string, string]> = [
      ['Action', 'Sign'],
      ['Version', CAS],
      ['AccessKeyId', 'ak1'],
      ['SignatureMethod', 'Hmac-SHA1'],
      ['SignatureVersion', '1.0'],
      ['SignatureNonce', freshNonce()],
      ['Timestamp', iso(T0)],
    ];
    const signature = v1Signature(KEYS.ak1!.secret, v1StringToSign('GET', pairs));
    const req = requestView({ method: 'GET', path: '/?' + canonicalQuery([...pairs, ['Signature', signature]]) });
    expect(authenticate(req, deps).scheme).toBe('V1');
  });

  it('rejects a request signed with the wrong secret with SignatureDoesNotMatch', () => {
    const { deps } = world();
    expect(errorCode(() => authenticate(v1Request({ secret: 'wrong' }), deps))).toBe('SignatureDoesNotMatch');
  });

  it('rejects a parameter changed after signing with SignatureDoesNotMatch', () => {
    const { deps } = world();
    const req = v1Request();
    req.query = req.query.map(([k, v]): [string, string] => [k, k === 'Message' ? 'dGFtcGVyZWQ=' : v]);
    expect(errorCode(() => authenticate(req, deps))).toBe('SignatureDoesNotMatch');
  });

  it('rejects an unknown SignatureMethod with InvalidSignatureMethod', () => {
    const { deps } = world();
    const req = v1Request();
    req.query = req.query.map(([k, v]): [string, string] => [k, k === 'SignatureMethod' ? 'HMAC-SHA256' : v]);
    expect(errorCode(() => authenticate(req, deps))).toBe('InvalidSignatureMethod');
  });

  it('rejects a SignatureVersion other than 1.0 with IncompleteSignature', () => {
    const { deps } = world();
    const req = v1Request();
    req.query = req.query.map(([k, v]): [string, string] => [k, k === 'SignatureVersion' ? '2.0' : v]);
    expect(errorCode(() => authenticate(req, deps))).toBe('IncompleteSignature');
  });

  it.each(['AccessKeyId', 'Timestamp', 'SignatureNonce', 'SignatureMethod'])(
    'rejects a request without %s with IncompleteSignature',
    (name) => {
      const { deps } = world();
      const req = v1Request();
      req.query = req.query.filter(([k]) => k !== name);
      expect(errorCode(() => authenticate(req, deps))).toBe('IncompleteSignature');
    },
  );

  it('rejects bearer-token authentication (SignatureType) with InvalidSignatureMethod', () => {
    const { deps } = world();
    const req = v1Request();
    req.query.push(['SignatureType', 'BEARERTOKEN']);
    expect(errorCode(() => authenticate(req, deps))).toBe('InvalidSignatureMethod');
  });
});

describe('authenticate: V3 (ACS3-HMAC-SHA256 / ACS3-HMAC-SM3)', () => {
  it.each<V3Algorithm>(['ACS3-HMAC-SHA256', 'ACS3-HMAC-SM3'])(
    'accepts a request signed with %s and returns caller, action and business parameters',
    (algorithm) => {
      const { deps } = world();
      expect(authenticate(v3Request({ algorithm }), deps)).toEqual({
        scheme: 'V3',
        signatureMethod: algorithm,
        accessKeyId: 'ak1',
        action: 'Sign',
        version: CAS,
        params: new Map(Object.entries(BUSINESS)),
      });
    },
  );

  it.each(V3_VECTORS.map((v) => [v.name, v] as const))('accepts the SDK-signed request of vector %s', (_name, v) => {
    const { deps } = world(Date.parse(v.headers['x-acs-date']!));
    const authorization = `${v.algorithm} Credential=${v.accessKeyId},SignedHeaders=${v.signedHeaders},Signature=${v.signature}`;
    const req = requestView({
      method: v.method,
      path: '/?' + v.query.map(([k, x]) => `${k}=${encodeURIComponent(x)}`).join('&'),
      headers: { ...v.headers, authorization },
    });
    expect(authenticate(req, deps)).toMatchObject({ scheme: 'V3', accessKeyId: v.accessKeyId, action: 'Sign' });
  });

  it('accepts the SDK wire form of special characters (querystring leaves *()! unescaped)', () => {
    const { deps } = world();
    const signed = signV3Request({
      method: 'POST',
      host: 'h',
      query: { KeyWord: "x*y'z(1)!~ +/=%&é" },
      action: 'ListCert',
      version: CAS,
      accessKeyId: 'ak1',
      secret: KEYS.ak1!.secret,
      date: iso(T0),
      nonce: freshNonce(),
    });
    const req = requestView({
      method: 'POST',
      path: '/?KeyWord=x*y%27z(1)!~%20%2B%2F%3D%25%26%C3%A9',
      headers: signed.headers,
    });
    expect(authenticate(req, deps).params.get('KeyWord')).toBe("x*y'z(1)!~ +/=%&é");
  });

  it('accepts a form body when content-type is signed, the body winning over the query', () => {
    const { deps } = world();
    const req = v3Request({
      query: { CertificateId: 'c-1', MessageType: 'DIGEST' },
      body: 'Message=a%2Bb%2Fc%3D&MessageType=RAW&Algorithm=ECDSA_SHA_256',
    });
    expect(authenticate(req, deps).params).toEqual(
      new Map([
        ['CertificateId', 'c-1'],
        ['MessageType', 'RAW'],
        ['Message', 'a+b/c='],
        ['Algorithm', 'ECDSA_SHA_256'],
      ]),
    );
  });

  it('tolerates spaces after the commas of the Authorization header', () => {
    const { deps } = world();
    const req = v3Request();
    req.headers['authorization'] = String(req.headers['authorization']).replace(/,/g, ', ');
    expect(authenticate(req, deps).scheme).toBe('V3');
  });

  it('rejects a request signed with the wrong secret with SignatureDoesNotMatch', () => {
    const { deps } = world();
    expect(errorCode(() => authenticate(v3Request({ secret: 'wrong' }), deps))).toBe('SignatureDoesNotMatch');
  });

  it('rejects a tampered body with SignatureDoesNotMatch', () => {
    const { deps } = world();
    const req = v3Request({ body: 'Message=MTIzNA%3D%3D' });
    req.rawBody = Buffer.from('Message=NTY3OA%3D%3D');
    req.body = [['Message', 'NTY3OA==']];
    expect(errorCode(() => authenticate(req, deps))).toBe('SignatureDoesNotMatch');
  });

  it('rejects a tampered query with SignatureDoesNotMatch', () => {
    const { deps } = world();
    const req = v3Request();
    req.query = req.query.map(([k, v]): [string, string] => [k, k === 'MessageType' ? 'DIGEST' : v]);
    expect(errorCode(() => authenticate(req, deps))).toBe('SignatureDoesNotMatch');
  });

  it('rejects a tampered signed header with SignatureDoesNotMatch', () => {
    const { deps } = world();
    const req = v3Request();
    req.headers['x-acs-action'] = 'Decrypt';
    expect(errorCode(() => authenticate(req, deps))).toBe('SignatureDoesNotMatch');
  });

  it.each(['host', 'x-acs-action', 'x-acs-version', 'x-acs-date', 'x-acs-signature-nonce', 'x-acs-content-sha256'])(
    'rejects SignedHeaders without %s with IncompleteSignature',
    (name) => {
      const { deps } = world();
      const req = v3Request();
      const auth = String(req.headers['authorization']);
      req.headers['authorization'] = auth.replace(/SignedHeaders=[^,]*/, (m) =>
        m.replace(`=${name};`, '=').replace(`;${name}`, ''),
      );
      expect(req.headers['authorization']).not.toBe(auth);
      expect(errorCode(() => authenticate(req, deps))).toBe('IncompleteSignature');
    },
  );

  it('rejects a header listed in SignedHeaders but not sent with IncompleteSignature', () => {
    const { deps } = world();
    const req = v3Request();
    delete req.headers['x-acs-date'];
    expect(errorCode(() => authenticate(req, deps))).toBe('IncompleteSignature');
  });

  it('rejects a form body whose content-type is not signed with IncompleteSignature', () => {
    const { deps } = world();
    const req = v3Request({ body: 'Message=MTIzNA%3D%3D' });
    req.headers['authorization'] = String(req.headers['authorization']).replace('content-type;', '');
    expect(errorCode(() => authenticate(req, deps))).toBe('IncompleteSignature');
  });

  it('rejects a malformed Authorization header with IncompleteSignature', () => {
    const { deps } = world();
    const req = v3Request();
    req.headers['authorization'] = 'ACS3-HMAC-SHA256 Credential=ak1';
    expect(errorCode(() => authenticate(req, deps))).toBe('IncompleteSignature');
  });

  it('rejects an ACS3 algorithm it does not offer with InvalidSignatureMethod', () => {
    const { deps } = world();
    const req = v3Request();
    req.headers['authorization'] = String(req.headers['authorization']).replace('ACS3-HMAC-SHA256', 'ACS3-RSA-SHA256');
    expect(errorCode(() => authenticate(req, deps))).toBe('InvalidSignatureMethod');
  });

  it('rejects a nonce longer than 128 characters with IncompleteSignature', () => {
    const { deps } = world();
    expect(errorCode(() => authenticate(v3Request({ nonce: 'n'.repeat(129) }), deps))).toBe('IncompleteSignature');
    expect(authenticate(v3Request({ nonce: 'n'.repeat(128) }), deps).scheme).toBe('V3');
  });
});

describe('authenticate: access keys', () => {
  it.each([
    ['V1', () => v1Request({ accessKeyId: 'nobody' })],
    ['V3', () => v3Request({ accessKeyId: 'nobody' })],
  ])('rejects an unknown AccessKeyId (%s) with InvalidAccessKeyId.NotFound', (_scheme, build) => {
    const { deps } = world();
    expect(errorCode(() => authenticate(build(), deps))).toBe('InvalidAccessKeyId.NotFound');
  });

  it.each([
    ['V1', () => v1Request({ accessKeyId: 'akOff' })],
    ['V3', () => v3Request({ accessKeyId: 'akOff' })],
  ])('rejects a disabled AccessKey (%s) with InvalidAccessKeyId.Inactive', (_scheme, build) => {
    const { deps } = world();
    expect(errorCode(() => authenticate(build(), deps))).toBe('InvalidAccessKeyId.Inactive');
  });

  it('looks the AccessKey up before reading the timestamp', () => {
    const { deps } = world();
    expect(errorCode(() => authenticate(v1Request({ accessKeyId: 'nobody', timestamp: 'garbage' }), deps))).toBe(
      'InvalidAccessKeyId.NotFound',
    );
  });
});

describe('authenticate: time window', () => {
  it.each([
    ['V1', (t: string) => v1Request({ timestamp: t })],
    ['V3', (t: string) => v3Request({ date: t })],
  ])('rejects a %s request whose timestamp is 16 minutes old with InvalidTimeStamp.Expired', (_scheme, build) => {
    const { deps } = world(T0 + 16 * MINUTE);
    expect(errorCode(() => authenticate(build(iso(T0)), deps))).toBe('InvalidTimeStamp.Expired');
  });

  it.each([
    ['V1', (t: string) => v1Request({ timestamp: t })],
    ['V3', (t: string) => v3Request({ date: t })],
  ])('accepts a %s request whose timestamp is 14 minutes old', (_scheme, build) => {
    const { deps } = world(T0 + 14 * MINUTE);
    expect(() => authenticate(build(iso(T0)), deps)).not.toThrow();
  });

  it('accepts a timestamp exactly 15 minutes old', () => {
    const { deps } = world(T0 + 15 * MINUTE);
    expect(() => authenticate(v1Request({ timestamp: iso(T0) }), deps)).not.toThrow();
  });

  it('rejects a timestamp 16 minutes in the future with InvalidTimeStamp.Expired', () => {
    const { deps } = world(T0 - 16 * MINUTE);
    expect(errorCode(() => authenticate(v1Request({ timestamp: iso(T0) }), deps))).toBe('InvalidTimeStamp.Expired');
  });

  it('honours a configured skew window', () => {
    const { deps } = world(T0 + 2 * MINUTE);
    deps.maxSkewMs = MINUTE;
    expect(errorCode(() => authenticate(v1Request({ timestamp: iso(T0) }), deps))).toBe('InvalidTimeStamp.Expired');
  });

  it('accepts a timestamp with milliseconds', () => {
    const { deps } = world();
    expect(() => authenticate(v1Request({ timestamp: '2024-01-01T12:00:00.250Z' }), deps)).not.toThrow();
  });

  it.each([
    ['V1', () => v1Request({ timestamp: 'yesterday' })],
    ['V3', () => v3Request({ date: '2024-01-01 12:00:00' })],
  ])('rejects a garbage %s timestamp with InvalidTimeStamp.Format', (_scheme, build) => {
    const { deps } = world();
    expect(errorCode(() => authenticate(build(), deps))).toBe('InvalidTimeStamp.Format');
  });

  it('refuses a request signed before the replay window started (notBefore) with InvalidTimeStamp.Expired', () => {
    const { deps } = world(T0 + MINUTE);
    deps.notBefore = T0 + 500;
    expect(errorCode(() => authenticate(v1Request({ timestamp: iso(T0) }), deps))).toBe('InvalidTimeStamp.Expired');
    expect(() => authenticate(v1Request({ timestamp: iso(T0 + 1000) }), deps)).not.toThrow();
  });

  it('checks the time before the signature', () => {
    const { deps } = world(T0 + 16 * MINUTE);
    expect(errorCode(() => authenticate(v1Request({ timestamp: iso(T0), secret: 'wrong' }), deps))).toBe(
      'InvalidTimeStamp.Expired',
    );
  });
});

describe('authenticate: replay protection', () => {
  it.each([
    ['V1', (nonce: string) => v1Request({ nonce })],
    ['V3', (nonce: string) => v3Request({ nonce })],
  ])('rejects a reused %s nonce with SignatureNonceUsed', (_scheme, build) => {
    const { deps } = world();
    authenticate(build('n-reused'), deps);
    expect(errorCode(() => authenticate(build('n-reused'), deps))).toBe('SignatureNonceUsed');
  });

  it('accepts the same nonce from a different AccessKey', () => {
    const { deps } = world();
    authenticate(v3Request({ nonce: 'shared', accessKeyId: 'ak1' }), deps);
    expect(() => authenticate(v3Request({ nonce: 'shared', accessKeyId: 'ak2' }), deps)).not.toThrow();
  });

  it('shares one replay window between V1 and V3 for an AccessKey', () => {
    const { deps } = world();
    authenticate(v1Request({ nonce: 'both' }), deps);
    expect(errorCode(() => authenticate(v3Request({ nonce: 'both' }), deps))).toBe('SignatureNonceUsed');
  });

  it('does not record the nonce of a request whose signature failed, so the correct retry passes', () => {
    const { deps } = world();
    expect(errorCode(() => authenticate(v3Request({ nonce: 'retry', secret: 'wrong' }), deps))).toBe(
      'SignatureDoesNotMatch',
    );
    expect(deps.nonces.seen('ak1', 'retry')).toBe(false);
    expect(() => authenticate(v3Request({ nonce: 'retry' }), deps)).not.toThrow();
  });

  it('checks the signature before the nonce', () => {
    const { deps } = world();
    authenticate(v1Request({ nonce: 'first' }), deps);
    expect(errorCode(() => authenticate(v1Request({ nonce: 'first', secret: 'wrong' }), deps))).toBe(
      'SignatureDoesNotMatch',
    );
  });

  it('forgets a nonce after 31 minutes, and not before', () => {
    const { deps, clock } = world();
    authenticate(v3Request({ nonce: 'late', date: iso(clock.now) }), deps);
    clock.now = T0 + 30 * MINUTE;
    expect(errorCode(() => authenticate(v3Request({ nonce: 'late', date: iso(clock.now) }), deps))).toBe(
      'SignatureNonceUsed',
    );
    clock.now = T0 + 31 * MINUTE;
    expect(() => authenticate(v3Request({ nonce: 'late', date: iso(clock.now) }), deps)).not.toThrow();
  });

  it('answers ServiceUnavailable when the replay window is full of live nonces', () => {
    const { deps, clock } = world();
    deps.nonces = new NonceCache({ maxEntries: 2, now: () => clock.now });
    authenticate(v1Request(), deps);
    authenticate(v1Request(), deps);
    expect(errorCode(() => authenticate(v1Request(), deps))).toBe('ServiceUnavailable');
  });
});

describe('authenticate: request shape', () => {
  it('rejects a request with neither an ACS3 Authorization header nor a Signature with IncompleteSignature', () => {
    const { deps } = world();
    const req = requestView({ method: 'GET', path: '/?Action=Sign&Version=2020-04-07' });
    expect(errorCode(() => authenticate(req, deps))).toBe('IncompleteSignature');
  });

  it('treats a non-ACS3 Authorization header as absent', () => {
    const { deps } = world();
    const req = v1Request();
    req.headers['authorization'] = 'Bearer token';
    expect(authenticate(req, deps).scheme).toBe('V1');
  });

  it.each([
    ['V1 SecurityToken parameter', () => v1Request({ params: { ...BUSINESS, SecurityToken: 'CAIS.token' } })],
    [
      'V3 x-acs-security-token header',
      () => {
        const req = v3Request();
        req.headers['x-acs-security-token'] = 'CAIS.token';
        return req;
      },
    ],
  ])('rejects an STS %s with InvalidSecurityToken.Malformed', (_what, build) => {
    const { deps } = world();
    expect(errorCode(() => authenticate(build(), deps))).toBe('InvalidSecurityToken.Malformed');
  });

  it('rejects a parameter repeated in the query with InvalidParameter', () => {
    const { deps } = world();
    const req = v1Request();
    req.query.push(['Message', 'again']);
    expect(errorCode(() => authenticate(req, deps))).toBe('InvalidParameter');
  });

  it('drops RegionId and the other common parameters from the business parameters', () => {
    const { deps } = world();
    const result = authenticate(v1Request({ params: { ...BUSINESS, RegionId: 'cn-hangzhou' } }), deps);
    expect(result.params.has('RegionId')).toBe(false);
    expect([...result.params.keys()].sort()).toEqual(Object.keys(BUSINESS).sort());
  });

  it('never puts the secret or the computed signature in an error message', () => {
    const { deps } = world();
    const req = v1Request();
    const expected = req.query.find(([k]) => k === 'Signature')![1];
    req.query = req.query.map(([k, v]): [string, string] => [
      k,
      k === 'Signature' ? 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' : v,
    ]);
    const error = thrownError(() => authenticate(req, deps));
    expect(error.code).toBe('SignatureDoesNotMatch');
    expect(error.message).not.toContain(expected);
    expect(error.message).not.toContain(KEYS.ak1!.secret);
    expect(JSON.stringify(error)).not.toContain(expected);
  });
});

describe('requestedFormat', () => {
  it.each<[Array<[string, string]>, 'JSON' | 'XML']>([
    [[], 'JSON'],
    [[['Format', 'JSON']], 'JSON'],
    [[['Format', 'json']], 'JSON'],
    [[['Format', 'XML']], 'XML'],
    [[['Format', 'xml']], 'XML'],
    [[['Format', 'yaml']], 'JSON'],
    [
      [
        ['Format', 'JSON'],
        ['Format', 'XML'],
      ],
      'XML',
    ],
  ])('reads %j as %s', (pairs, expected) => {
    expect(requestedFormat(pairs)).toBe(expected);
  });
});
