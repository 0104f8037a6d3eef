import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { Extensions, SubjectAlternativeName, id_ce_subjectAltName } from '@peculiar/asn1-x509';
import { buildCsr, id_pkcs9_extensionRequest, type CsrParams } from '../../../src/crypto/csrBuilder';
import { EncodingError } from '../../../src/crypto/encodingError';
import { pemEncode } from '../../../src/crypto/pem';
import { opensslDir, type OpensslDir } from './support/openssl';
import { generateKey, signerFor, type SoftwareKeyKind } from './support/softwareKeys';

const SUBJECT = 'CN=userName,OU=kms,O=aliyun,C=CN';

describe.each<SoftwareKeyKind>(['RSA-2048', 'P-256', 'P-384'])('buildCsr with a %s key', (kind) => {
  const key = generateKey(kind);
  let dir: OpensslDir;
  let withSan: Buffer;
  let withoutSan: Buffer;

  beforeAll(async () => {
    dir = opensslDir();
    const params: CsrParams = { subject: SUBJECT, subjectPublicKeyInfo: key.spki, ...signerFor(kind, key) };
    withSan = await buildCsr({ ...params, subjectAltNames: ['test1.example.com', 'test2.example.com'] });
    withoutSan = await buildCsr(params);
    dir.write('san.pem', pemEncode('CERTIFICATE REQUEST', withSan));
    dir.write('plain.pem', pemEncode('CERTIFICATE REQUEST', withoutSan));
  });
  afterAll(() => dir.remove());

  it.each(['san.pem', 'plain.pem'])('passes `openssl req -verify` (%s)', (file) => {
    const result = dir.run(['req', '-verify', '-noout', '-in', file]);
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/verify OK/i);
  });

  it('shows the subject and the requested DNS names in `openssl req -text`', () => {
    const text = dir.run(['req', '-text', '-noout', '-in', 'san.pem']).stdout;
    expect(text).toContain('Subject: C = CN, O = aliyun, OU = kms, CN = userName');
    expect(text).toContain('Requested Extensions:');
    expect(text).toContain('DNS:test1.example.com, DNS:test2.example.com');
    const subject = dir.run(['req', '-noout', '-subject', '-nameopt', 'RFC2253', '-in', 'san.pem']).stdout;
    expect(subject.trim()).toBe(`subject=${SUBJECT}`);
  });

  it('carries the SANs in one extensionRequest attribute, and no attribute at all without SANs', () => {
    const info = AsnConvert.parse(withSan, CertificationRequest).certificationRequestInfo;
    expect(info.version).toBe(0);
    expect(info.attributes.map((attribute) => attribute.type)).toEqual([id_pkcs9_extensionRequest]);
    const extensions = AsnConvert.parse(info.attributes[0]?.values[0] ?? new ArrayBuffer(0), Extensions);
    expect(extensions.map((extension) => extension.extnID)).toEqual([id_ce_subjectAltName]);
    const names = AsnConvert.parse(extensions[0]?.extnValue ?? new ArrayBuffer(0), SubjectAlternativeName);
    expect(names.map((name) => name.dNSName)).toEqual(['test1.example.com', 'test2.example.com']);
    const plain = AsnConvert.parse(withoutSan, CertificationRequest);
    expect(plain.certificationRequestInfo.attributes).toHaveLength(0);
    // RFC 2986 makes `attributes [0]` mandatory: an empty set is still written, as `A0 00`.
    expect(
      Buffer.from(plain.certificationRequestInfoRaw ?? new ArrayBuffer(0))
        .subarray(-2)
        .toString('hex'),
    ).toBe('a000');
  });
});

describe('buildCsr rejections', () => {
  const key = generateKey('P-256');

  it('rejects a signer whose key is not the subject key (no proof of possession)', async () => {
    const other = generateKey('P-256');
    await expect(
      buildCsr({ subject: SUBJECT, subjectPublicKeyInfo: key.spki, ...signerFor('P-256', other) }),
    ).rejects.toThrow(EncodingError);
  });

  it('rejects a malformed subject before calling the signer', async () => {
    const signer = jest.fn(signerFor('P-256', key).signer);
    await expect(
      buildCsr({
        subject: 'CN=a,C=China',
        subjectPublicKeyInfo: key.spki,
        signatureAlgorithm: 'ecdsaWithSHA256',
        signer,
      }),
    ).rejects.toThrow(EncodingError);
    expect(signer).not.toHaveBeenCalled();
  });
});
