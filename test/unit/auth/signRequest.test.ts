/**
 * The client-side signers against the official SDK's own signing functions (`@alicloud/openapi-core`
 * `OpenApiUtil`, a devDependency): same inputs, same signature. This pins the signers independently of the
 * verifier that shares their primitives.
 */
import OpenApiUtil from '@alicloud/openapi-core/dist/utils';

import { signV1Query, signV3Request, type SignV3RequestInput } from '../../helpers/signRequest';
import type { V3Algorithm } from '../../../src/api/auth/signatureV3';
import { decodePairs } from './requestView';

type SdkRequest = Parameters<typeof OpenApiUtil.getAuthorization>[0];

const BASE: SignV3RequestInput = {
  method: 'POST',
  host: '127.0.0.1:34143',
  query: { KeyWord: "x*y'z(1)!~ +/=%&é", CurrentPage: '1', ShowSize: '50', 'Key.10': 'b', 'Key.2': 'a' },
  action: 'ListCert',
  version: '2020-04-07',
  accessKeyId: 'LTAI5tTESTACCESSKEYID0001',
  secret: "TestSecret/+=!*()'~0001",
  date: '2026-11-23T11:44:29Z',
  nonce: 'bf0af761875e8fc0bb01a1fae8da8dc95e18874f4adb88b9d4cc0687f84bfcd7',
};

function sdkAuthorization(input: SignV3RequestInput, headers: Record<string, string>): string {
  // The SDK computes Authorization from the other headers.
  const unsigned = Object.fromEntries(Object.entries(headers).filter(([name]) => name !== 'authorization'));
  const request = {
    method: input.method,
    pathname: '/',
    query: input.query,
    headers: unsigned,
  } as unknown as SdkRequest;
  return OpenApiUtil.getAuthorization(
    request,
    input.algorithm ?? 'ACS3-HMAC-SHA256',
    headers['x-acs-content-sha256']!,
    input.accessKeyId,
    input.secret,
  );
}

describe('signV3Request', () => {
  it.each<V3Algorithm>(['ACS3-HMAC-SHA256', 'ACS3-HMAC-SM3'])(
    'produces the Authorization header the SDK computes for %s',
    (algorithm) => {
      const input = { ...BASE, algorithm };
      const { headers } = signV3Request(input);
      expect(headers['authorization']).toBe(sdkAuthorization(input, headers));
    },
  );

  it('signs a form body with its content type, as the SDK does for formData requests', () => {
    const input: SignV3RequestInput = {
      ...BASE,
      query: { CertificateId: 'c-1' },
      body: 'Message=a%2Bb%2Fc%3D&MessageType=RAW&Algorithm=ECDSA_SHA_256',
    };
    const { headers } = signV3Request(input);
    expect(headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(headers['authorization']).toContain('SignedHeaders=content-type;host;');
    expect(headers['authorization']).toBe(sdkAuthorization(input, headers));
  });

  it('puts the parameters in the path, RFC 3986-encoded, decoding back to the input', () => {
    const { path } = signV3Request(BASE);
    expect(path.startsWith('/?')).toBe(true);
    expect(Object.fromEntries(decodePairs(path.slice(2)))).toEqual(BASE.query);
  });

  it('uses the bare path / when there are no parameters', () => {
    expect(signV3Request({ ...BASE, query: {} }).path).toBe('/');
  });
});

describe('signV1Query', () => {
  it.each(['GET', 'POST'])('produces the Signature the SDK computes for %s', (method) => {
    const query = signV1Query({
      method,
      params: { KeyWord: "x*y'z(1)!~ +/=%&é", 'Key.10': 'b', 'Key.2': 'a' },
      action: 'ListCert',
      version: '2020-04-07',
      accessKeyId: 'LTAI5tTESTACCESSKEYID0001',
      secret: "TestSecret/+=!*()'~0001",
      timestamp: '2026-11-23T11:44:29Z',
      nonce: '7600d0f193fe',
    });
    const pairs = decodePairs(query);
    const signature = pairs.find(([k]) => k === 'Signature')?.[1];
    const signed = Object.fromEntries(pairs.filter(([k]) => k !== 'Signature'));
    expect(signed).toMatchObject({ Format: 'JSON', SignatureMethod: 'HMAC-SHA1', SignatureVersion: '1.0' });
    expect(signature).toBe(OpenApiUtil.getRPCSignature(signed, method, "TestSecret/+=!*()'~0001"));
  });
});
