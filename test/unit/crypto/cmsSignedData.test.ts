import { createHash } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  CMSVersion,
  ContentInfo,
  SignedData,
  id_contentType,
  id_data,
  id_messageDigest,
  id_signedData,
  id_signingTime,
} from '@peculiar/asn1-cms';
import { Certificate, Time } from '@peculiar/asn1-x509';
import { id_rsaEncryption, id_sha256 } from '@peculiar/asn1-rsa';
import { buildSignedData, type SignedDataParams } from '../../../src/crypto/cmsSignedData';
import { EncodingError } from '../../../src/crypto/encodingError';
import { buildCertificate, pemEncode } from '../../../src/crypto/x509Builder';
import { opensslDir, type OpensslDir } from './support/openssl';
import { generateKey, rsaSigner } from './support/softwareKeys';

const HOUR = 3600_000;
const CA_DN = 'CN=p11bridge CMS Root,O=p11bridge,C=CN';
const SIGNER_DN = 'CN=contract signer,O=Example,C=CN';

const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();

/** The SignedData inside a DER ContentInfo, parsed with @peculiar/asn1-cms. */
function parseSignedData(der: Buffer): SignedData {
  const info = AsnConvert.parse(der, ContentInfo);
  expect(info.contentType).toBe(id_signedData);
  return AsnConvert.parse(info.content, SignedData);
}

describe('buildSignedData (CAS SHA256withRSA/P7)', () => {
  const caKey = generateKey('RSA-2048');
  const signerKey = generateKey('RSA-2048');
  const data = Buffer.from('e-contract #42: the parties agree.\n');
  let dir: OpensslDir;
  let caDer: Buffer;
  let signerDer: Buffer;
  let base: SignedDataParams;

  beforeAll(async () => {
    dir = opensslDir();
    const validity = { notBefore: new Date(Date.now() - HOUR), notAfter: new Date(Date.now() + 24 * HOUR) };
    caDer = await buildCertificate({
      subject: CA_DN,
      issuer: CA_DN,
      serialNumber: Buffer.from('01', 'hex'),
      ...validity,
      subjectPublicKeyInfo: caKey.spki,
      isCA: true,
      keyUsage: ['keyCertSign', 'cRLSign'],
      signatureAlgorithm: 'sha256WithRSAEncryption',
      signer: rsaSigner(caKey),
    });
    signerDer = await buildCertificate({
      subject: SIGNER_DN,
      issuer: CA_DN,
      serialNumber: Buffer.from('7f1e', 'hex'),
      ...validity,
      subjectPublicKeyInfo: signerKey.spki,
      issuerPublicKeyInfo: caKey.spki,
      isCA: false,
      // OpenSSL's `cms -verify` checks the smime_sign purpose: these bits and no EKU.
      keyUsage: ['digitalSignature', 'nonRepudiation'],
      signatureAlgorithm: 'sha256WithRSAEncryption',
      signer: rsaSigner(caKey),
    });
    dir.write('ca.pem', pemEncode('CERTIFICATE', caDer));
    dir.write('data.bin', data);
    base = {
      messageDigest: sha256(data),
      signerCertificate: signerDer,
      chain: [caDer],
      signingTime: new Date(),
      signer: rsaSigner(signerKey),
    };
  });
  afterAll(() => dir.remove());

  /** Runs `openssl cms -verify` on a DER signature, with detached content when given. */
  function opensslVerify(signature: Buffer, content?: Buffer) {
    dir.write('sig.der', signature);
    const args = [
      'cms',
      '-verify',
      '-binary',
      '-inform',
      'DER',
      '-in',
      'sig.der',
      '-CAfile',
      'ca.pem',
      '-out',
      'out.bin',
    ];
    if (content !== undefined) args.push('-content', dir.write('content.bin', content));
    return dir.run(args);
  }

  it('makes a detached signature that `openssl cms -verify -content` accepts', async () => {
    const result = opensslVerify(await buildSignedData(base), data);
    expect(result.stderr).toContain('Verification successful');
    expect(result.status).toBe(0);
  });

  it('makes an attached signature that `openssl cms -verify` accepts and that returns the content', async () => {
    const result = opensslVerify(await buildSignedData({ ...base, content: data }));
    expect(result.stderr).toContain('Verification successful');
    expect(result.status).toBe(0);
    expect(dir.read('out.bin').equals(data)).toBe(true);
  });

  it('fails OpenSSL verification when the detached content is tampered with', async () => {
    const tampered = Buffer.from(data);
    tampered[0] = (tampered[0] ?? 0) ^ 0x20;
    const result = opensslVerify(await buildSignedData(base), tampered);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/Verification failure|digest failure/i);
  });

  it('signs a MessageType=DIGEST request (digest only, no content) that verifies against the data', async () => {
    let seen: Buffer | undefined;
    const signature = await buildSignedData({
      messageDigest: Buffer.from(sha256(data).toString('base64'), 'base64'),
      signerCertificate: signerDer,
      chain: [],
      signingTime: new Date(),
      signer: async (attrs) => {
        seen = attrs;
        return rsaSigner(signerKey)(attrs);
      },
    });
    expect(seen?.includes(data)).toBe(false);
    const result = opensslVerify(signature, data);
    expect(result.stderr).toContain('Verification successful');
    expect(result.status).toBe(0);
  });

  it('writes the RFC 5652 structure: version 1, sha256, id-data, signer then chain, one v1 SignerInfo', async () => {
    const detached = parseSignedData(await buildSignedData(base));
    expect(detached.version).toBe(CMSVersion.v1);
    expect(detached.digestAlgorithms.map((alg) => [alg.algorithm, alg.parameters])).toEqual([[id_sha256, undefined]]);
    expect(detached.encapContentInfo.eContentType).toBe(id_data);
    expect(detached.encapContentInfo.eContent).toBeUndefined();
    expect(detached.certificates).toHaveLength(2);
    const certs = (detached.certificates ?? []).map((choice) => Buffer.from(AsnConvert.serialize(choice.certificate)));
    expect(certs[0]?.equals(signerDer)).toBe(true);
    expect(certs[1]?.equals(caDer)).toBe(true);

    expect(detached.signerInfos).toHaveLength(1);
    const [info] = detached.signerInfos;
    expect(info?.version).toBe(CMSVersion.v1);
    const signerCert = AsnConvert.parse(signerDer, Certificate).tbsCertificate;
    expect(Buffer.from(info?.sid.issuerAndSerialNumber?.serialNumber ?? new ArrayBuffer(0)).toString('hex')).toBe(
      '7f1e',
    );
    expect(AsnConvert.serialize(info?.sid.issuerAndSerialNumber?.issuer)).toEqual(
      AsnConvert.serialize(signerCert.issuer),
    );
    expect(info?.digestAlgorithm.algorithm).toBe(id_sha256);
    expect(info?.signatureAlgorithm.algorithm).toBe(id_rsaEncryption);
    expect(info?.signatureAlgorithm.parameters).toBeNull();
    expect(new Set(info?.signedAttrs?.map((attr) => attr.attrType))).toEqual(
      new Set([id_contentType, id_messageDigest, id_signingTime]),
    );
    const digest = info?.signedAttrs?.find((attr) => attr.attrType === id_messageDigest)?.attrValues[0];
    expect(Buffer.from(AsnConvert.parse(digest ?? new ArrayBuffer(0), OctetString).buffer).equals(sha256(data))).toBe(
      true,
    );

    const attached = parseSignedData(await buildSignedData({ ...base, content: data }));
    expect(Buffer.from(attached.encapContentInfo.eContent?.single?.buffer ?? new ArrayBuffer(0)).equals(data)).toBe(
      true,
    );
  });

  it('signs the attributes as an explicit SET OF (0x31), DER-sorted, stored under IMPLICIT [0] (0xA0)', async () => {
    let signed: Buffer = Buffer.alloc(0);
    const der = await buildSignedData({
      ...base,
      signer: async (attrs) => {
        signed = attrs;
        return rsaSigner(signerKey)(attrs);
      },
    });
    expect(signed[0]).toBe(0x31);
    const implicit = Buffer.concat([Buffer.from([0xa0]), signed.subarray(1)]);
    expect(der.indexOf(implicit)).toBeGreaterThan(0);

    const info = parseSignedData(der).signerInfos[0];
    const encodings = (info?.signedAttrs ?? []).map((attr) => Buffer.from(AsnConvert.serialize(attr)));
    const sorted = [...encodings].sort(Buffer.compare);
    expect(encodings).toEqual(sorted);
  });

  it.each([
    ['UTCTime for 2049', '2049-12-31T23:59:59Z', 'utcTime'],
    ['GeneralizedTime for 2050', '2050-01-01T00:00:00Z', 'generalTime'],
  ] as const)('encodes signingTime as %s', async (_name, iso, field) => {
    const info = parseSignedData(await buildSignedData({ ...base, signingTime: new Date(iso) })).signerInfos[0];
    const value = info?.signedAttrs?.find((attr) => attr.attrType === id_signingTime)?.attrValues[0];
    const time = AsnConvert.parse(value ?? new ArrayBuffer(0), Time);
    expect(time[field]?.toISOString()).toBe(new Date(iso).toISOString());
  });

  it('embeds the certificates byte for byte', async () => {
    const der = await buildSignedData(base);
    expect(der.indexOf(signerDer)).toBeGreaterThan(0);
    expect(der.indexOf(caDer)).toBeGreaterThan(0);
  });

  it.each<[string, () => Partial<SignedDataParams>]>([
    ['a messageDigest that is not 32 bytes', () => ({ messageDigest: Buffer.alloc(31) })],
    ['attached content whose SHA-256 is not the messageDigest', () => ({ content: Buffer.from('other') })],
    ['a signer certificate that is not a certificate', () => ({ signerCertificate: Buffer.from('3000', 'hex') })],
    ['a chain entry that is not a certificate', () => ({ chain: [Buffer.from('not a cert')] })],
    ['a signature by a key other than the certificate’s', () => ({ signer: rsaSigner(generateKey('RSA-2048')) })],
  ])('rejects %s', async (_name, override) => {
    await expect(buildSignedData({ ...base, ...override() })).rejects.toThrow(EncodingError);
  });
});
