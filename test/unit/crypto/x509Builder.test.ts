import { X509Certificate as NodeCertificate } from 'node:crypto';
import './support/reflectMetadata'; // before @peculiar/x509
import * as x509 from '@peculiar/x509';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import { EncodingError } from '../../../src/crypto/encodingError';
import {
  buildCertificate,
  formatName,
  parseDistinguishedName,
  pemEncode,
  type CertificateRequestParams,
} from '../../../src/crypto/x509Builder';
import { opensslDir, type OpensslDir } from './support/openssl';
import { generateKey, rsaSigner, signerFor, type SoftwareKey, type SoftwareKeyKind } from './support/softwareKeys';

const HOUR = 3600_000;
const CA_DN = 'CN=p11bridge Test Root\\, Unit,O=p11bridge,C=CN';
const LEAF_SERIAL = `80${'00'.repeat(17)}01`;
const LEAF_DN = 'CN=sign.example.com,OU=IT,O=Example Ltd,L=Hangzhou,ST=Zhejiang,C=CN';

function caParams(kind: SoftwareKeyKind, key: SoftwareKey): CertificateRequestParams {
  return {
    subject: CA_DN,
    issuer: CA_DN,
    serialNumber: Buffer.from('01', 'hex'),
    notBefore: new Date(Date.now() - HOUR),
    notAfter: new Date(Date.now() + 24 * HOUR),
    subjectPublicKeyInfo: key.spki,
    isCA: true,
    pathLen: 0,
    keyUsage: ['keyCertSign', 'cRLSign', 'digitalSignature'],
    ...signerFor(kind, key),
  };
}

function leafParams(caKind: SoftwareKeyKind, caKey: SoftwareKey, leafKey: SoftwareKey): CertificateRequestParams {
  return {
    subject: LEAF_DN,
    issuer: CA_DN,
    // 19 octets with the high bit set: 20 once a 0x00 keeps the INTEGER positive, the RFC 5280 maximum.
    serialNumber: Buffer.from(LEAF_SERIAL, 'hex'),
    notBefore: new Date(Date.now() - HOUR),
    notAfter: new Date(Date.now() + 12 * HOUR),
    subjectPublicKeyInfo: leafKey.spki,
    issuerPublicKeyInfo: caKey.spki,
    isCA: false,
    keyUsage: ['digitalSignature', 'nonRepudiation', 'keyEncipherment'],
    extendedKeyUsage: ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2'],
    subjectAltNames: ['sign.example.com', '*.sign.example.com'],
    ...signerFor(caKind, caKey),
  };
}

/** The leaf key is of the other family, so every CA signs across key types once. */
const CASES: readonly { ca: SoftwareKeyKind; leaf: SoftwareKeyKind }[] = [
  { ca: 'P-256', leaf: 'RSA-2048' },
  { ca: 'RSA-2048', leaf: 'P-256' },
  { ca: 'P-384', leaf: 'P-256' },
];

describe.each(CASES)('buildCertificate: $ca CA issuing a $leaf leaf', ({ ca: caKind, leaf: leafKind }) => {
  const caKey = generateKey(caKind);
  const leafKey = generateKey(leafKind);
  let dir: OpensslDir;
  let caDer: Buffer;
  let leafDer: Buffer;

  beforeAll(async () => {
    dir = opensslDir();
    caDer = await buildCertificate(caParams(caKind, caKey));
    leafDer = await buildCertificate(leafParams(caKind, caKey, leafKey));
    dir.write('ca.pem', pemEncode('CERTIFICATE', caDer));
    dir.write('leaf.pem', pemEncode('CERTIFICATE', leafDer));
  });
  afterAll(() => dir.remove());

  it('self-signs a CA certificate that node verifies with the CA key', () => {
    const ca = new NodeCertificate(caDer);
    expect(ca.verify(caKey.publicKey)).toBe(true);
    expect(ca.ca).toBe(true);
    expect(ca.checkIssued(ca)).toBe(true);
  });

  it('signs a leaf that node verifies with the CA key and sees as issued by the CA', () => {
    const leaf = new NodeCertificate(leafDer);
    expect(leaf.verify(caKey.publicKey)).toBe(true);
    expect(leaf.checkIssued(new NodeCertificate(caDer))).toBe(true);
    expect(leaf.publicKey.equals(leafKey.publicKey)).toBe(true);
  });

  it('passes `openssl verify -x509_strict` against the CA', () => {
    const result = dir.run(['verify', '-x509_strict', '-CAfile', 'ca.pem', 'leaf.pem']);
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('leaf.pem: OK');
    expect(result.status).toBe(0);
  });

  it('prints the subject exactly as `openssl x509 -nameopt RFC2253` does', () => {
    const result = dir.run(['x509', '-in', 'leaf.pem', '-noout', '-subject', '-issuer', '-nameopt', 'RFC2253']);
    expect(result.stdout).toBe(`subject=${LEAF_DN}\nissuer=${CA_DN}\n`);
    expect(formatName(parseDistinguishedName(LEAF_DN))).toBe(LEAF_DN);
  });

  it('writes a CA with critical basicConstraints (pathLen 0), critical keyUsage and SKI = AKI', async () => {
    const ca = new x509.X509Certificate(caDer);
    const basic = ca.getExtension(x509.BasicConstraintsExtension);
    expect(basic).toMatchObject({ critical: true, ca: true, pathLength: 0 });
    const usage = ca.getExtension(x509.KeyUsagesExtension);
    expect(usage?.critical).toBe(true);
    expect(usage?.usages).toBe(
      x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
    );
    const ski = ca.getExtension(x509.SubjectKeyIdentifierExtension);
    const expectedSki = await x509.SubjectKeyIdentifierExtension.create(ca.publicKey);
    expect(ski?.keyId).toBe(expectedSki.keyId);
    expect(ca.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(ski?.keyId);
    expect(ca.getExtension(x509.ExtendedKeyUsageExtension)).toBeNull();
    expect(ca.getExtension(x509.SubjectAlternativeNameExtension)).toBeNull();
    expect(ca.serialNumber).toBe('01');
  });

  it('writes a leaf with cA FALSE as the DER `30 00`, EKU, DNS SANs, its own SKI and the CA’s SKI as AKI', async () => {
    const leaf = new x509.X509Certificate(leafDer);
    const ca = new x509.X509Certificate(caDer);
    const basic = leaf.getExtension(x509.BasicConstraintsExtension);
    expect(basic?.critical).toBe(true);
    expect(Buffer.from(basic?.value ?? new ArrayBuffer(0)).toString('hex')).toBe('3000');
    expect(leaf.getExtension(x509.KeyUsagesExtension)?.usages).toBe(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation | x509.KeyUsageFlags.keyEncipherment,
    );
    const eku = leaf.getExtension(x509.ExtendedKeyUsageExtension);
    expect(eku?.critical).toBe(false);
    expect(eku?.usages).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    const san = leaf.getExtension(x509.SubjectAlternativeNameExtension);
    expect(san?.critical).toBe(false);
    expect(san?.names.toJSON()).toEqual([
      { type: 'dns', value: 'sign.example.com' },
      { type: 'dns', value: '*.sign.example.com' },
    ]);
    const expectedSki = await x509.SubjectKeyIdentifierExtension.create(leaf.publicKey);
    expect(leaf.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId).toBe(expectedSki.keyId);
    expect(leaf.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(
      ca.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId,
    );
    const { serialNumber } = AsnConvert.parse(leafDer, Certificate).tbsCertificate;
    expect(Buffer.from(serialNumber).toString('hex')).toBe(`00${LEAF_SERIAL}`);
  });
});

describe('buildCertificate details', () => {
  const key = generateKey('P-256');
  const base = (): CertificateRequestParams => caParams('P-256', key);

  it('encodes a serial whose high bit is set with a leading 0x00 octet', async () => {
    const der = await buildCertificate({ ...base(), serialNumber: Buffer.from('00ff01', 'hex') });
    const cert = AsnConvert.parse(der, Certificate);
    expect(Buffer.from(cert.tbsCertificate.serialNumber).toString('hex')).toBe('00ff01');
  });

  it('uses UTCTime up to 2049 and GeneralizedTime from 2050, in whole seconds', async () => {
    const der = await buildCertificate({
      ...base(),
      notBefore: new Date('2049-12-31T23:59:59.750Z'),
      notAfter: new Date('2050-01-01T00:00:00Z'),
    });
    const { validity } = AsnConvert.parse(der, Certificate).tbsCertificate;
    expect(validity.notBefore.utcTime?.toISOString()).toBe('2049-12-31T23:59:59.000Z');
    expect(validity.notBefore.generalTime).toBeUndefined();
    expect(validity.notAfter.generalTime?.toISOString()).toBe('2050-01-01T00:00:00.000Z');
    expect(new NodeCertificate(der).validTo).toBe('Jan  1 00:00:00 2050 GMT');
  });

  it('hands the signer the DER TBSCertificate that ends up in the certificate', async () => {
    let signed: Buffer | undefined;
    const inner = base().signer;
    const der = await buildCertificate({
      ...base(),
      signer: async (tbs) => {
        signed = tbs;
        return inner(tbs);
      },
    });
    expect(signed).toBeDefined();
    expect(der.indexOf(signed ?? Buffer.alloc(1))).toBeGreaterThan(0);
  });

  it.each<[string, Partial<CertificateRequestParams>]>([
    ['a zero serial number', { serialNumber: Buffer.from('0000', 'hex') }],
    ['a serial number of 21 octets', { serialNumber: Buffer.alloc(21, 0x11) }],
    ['notAfter before notBefore', { notAfter: new Date(Date.now() - 2 * HOUR) }],
    ['an empty issuer', { issuer: '' }],
    ['a different issuer without issuerPublicKeyInfo', { issuer: 'CN=Someone Else' }],
    ['keyCertSign without isCA', { isCA: false, pathLen: undefined }],
    ['pathLen without isCA', { isCA: false, keyUsage: ['digitalSignature'], pathLen: 1 }],
    ['a negative pathLen', { pathLen: -1 }],
    ['an extendedKeyUsage that is not an OID', { extendedKeyUsage: ['serverAuth'] }],
    ['a SAN that is not a DNS name', { subjectAltNames: ['not a host'] }],
    ['a subjectPublicKeyInfo that is not DER', { subjectPublicKeyInfo: Buffer.from('3000', 'hex') }],
  ])('rejects %s', async (_name, override) => {
    await expect(buildCertificate({ ...base(), ...override })).rejects.toThrow(EncodingError);
  });

  it('rejects a signer that returns raw r‖s instead of DER', async () => {
    const { sign } = await import('node:crypto');
    await expect(
      buildCertificate({
        ...base(),
        signer: async (tbs) => sign('sha256', tbs, { key: key.privateKey, dsaEncoding: 'ieee-p1363' }),
      }),
    ).rejects.toThrow(/does not verify/);
  });

  it('rejects a signer that uses a different key than the issuer’s', async () => {
    const other = generateKey('P-256');
    await expect(buildCertificate({ ...base(), signer: signerFor('P-256', other).signer })).rejects.toThrow(
      /does not verify/,
    );
  });

  it('rejects an RSA signature algorithm for an EC issuer key', async () => {
    const rsa = generateKey('RSA-2048');
    await expect(
      buildCertificate({ ...base(), signatureAlgorithm: 'sha256WithRSAEncryption', signer: rsaSigner(rsa) }),
    ).rejects.toThrow(EncodingError);
  });

  it('marks the SAN critical when the subject is empty (RFC 5280 §4.2.1.6)', async () => {
    const caKey = generateKey('P-256');
    const der = await buildCertificate({
      ...leafParams('P-256', caKey, key),
      subject: '',
    });
    const san = new x509.X509Certificate(der).getExtension(x509.SubjectAlternativeNameExtension);
    expect(san?.critical).toBe(true);
  });
});
