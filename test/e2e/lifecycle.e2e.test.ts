/**
 * A certificate's whole life through the official clients (KMS through openapi-core `callApi` with the
 * generated client's Params, CAS through cas20200407 3.x): CreateCertificate makes the key pair in the token
 * and a CSR that `openssl req -verify` accepts; a test CA (openssl, root + issuing CA) issues it with
 * `openssl x509 -req`; UploadCertificate stores it with its chain; the token signs and decrypts with it;
 * UpdateCertificateStatus disables, revokes and re-enables it; a renewal replaces it; DeleteCertificate destroys
 * it. Signatures are verified with node:crypto and openssl against the ISSUED certificate; token objects are
 * read back from the token itself. Error paths assert HTTP status and Code.
 */
import { DecryptRequest, EncryptRequest, ListCertRequest, VerifyRequest } from '@alicloud/cas20200407';
import { constants, createHash, publicEncrypt, randomBytes, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as pkcs11 from 'pkcs11js';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { AsnConvert } from '@peculiar/asn1-schema';
import { readTlv } from '../../src/crypto/der';
import { privateKeyAttributes } from '../../src/token/objects';
import type { TokenManager } from '../../src/token/tokenManager';
import { startTestDaemon } from '../helpers/daemon';
import { CAS_VERSION, cas3, casSign, coreCaller, type RpcCaller } from '../helpers/clients';
import { sdkError, expectCloudError } from '../helpers/sdkErrors';
import { nodeVerify, openssl, opensslVerifyData, Scratch } from '../helpers/verify';
import { openToken } from '../helpers/token';

type Daemon = Awaited<ReturnType<typeof startTestDaemon>>;

let d: Daemon;
let kms: RpcCaller;
let tm: TokenManager;
let scratch: Scratch;
/** The test CA: a root and an issuing CA under it, made with openssl (not by the daemon). */
let ca: { rootPem: string; issuingPem: string };

const SUBJECT = 'CN=lifecycle.example.com,OU=e2e,O=p11bridge tests,L=Hangzhou,ST=Zhejiang,C=CN';
const SANS = ['lifecycle.example.com', '*.lifecycle.example.com'];

/** Runs openssl and fails the test with its output unless it succeeds. */
function run(args: string[]): string {
  const r = openssl(args);
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed:\n${r.output}`);
  return r.output;
}

function path(name: string): string {
  return join(scratch.dir, name);
}

function makeTestCa(): { rootPem: string; issuingPem: string } {
  writeFileSync(
    path('ext.cnf'),
    [
      '[issuing]',
      'basicConstraints=critical,CA:TRUE,pathlen:0',
      'keyUsage=critical,keyCertSign,cRLSign',
      'subjectKeyIdentifier=hash',
      'authorityKeyIdentifier=keyid',
      '[leaf]',
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'subjectKeyIdentifier=hash',
      'authorityKeyIdentifier=keyid',
      '',
    ].join('\n'),
  );
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run(
    ['req', '-x509', ...ec, '-keyout', path('root.key'), '-out', path('root.pem'), '-days', '30']
      .concat(['-subj', '/C=CN/O=p11bridge tests/CN=Test Root CA'])
      .concat(['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']),
  );
  run(
    ['req', '-new', ...ec, '-keyout', path('issuing.key'), '-out', path('issuing.csr')].concat([
      '-subj',
      '/C=CN/O=p11bridge tests/CN=Test Issuing CA',
    ]),
  );
  run(
    ['x509', '-req', '-in', path('issuing.csr'), '-CA', path('root.pem'), '-CAkey', path('root.key')]
      .concat(['-CAcreateserial', '-days', '30', '-extfile', path('ext.cnf'), '-extensions', 'issuing'])
      .concat(['-out', path('issuing.pem')]),
  );
  return {
    rootPem: new X509Certificate(run(['x509', '-in', path('root.pem')])).toString(),
    issuingPem: new X509Certificate(run(['x509', '-in', path('issuing.pem')])).toString(),
  };
}

/** The test CA issues a CSR (`openssl x509 -req`, SANs copied from the request). */
function issue(csrPem: string, name: string): string {
  writeFileSync(path(`${name}.csr`), csrPem);
  run(
    ['x509', '-req', '-in', path(`${name}.csr`), '-CA', path('issuing.pem'), '-CAkey', path('issuing.key')]
      .concat(['-CAcreateserial', '-days', '30', '-copy_extensions', 'copy', '-extfile', path('ext.cnf')])
      .concat(['-extensions', 'leaf', '-out', path(`${name}.pem`)]),
  );
  return new X509Certificate(run(['x509', '-in', path(`${name}.pem`)])).toString();
}

/** Objects on the token (read through the daemon's own login session). */
async function objects(template: pkcs11.Template): Promise<number> {
  return tm.admin(async (session, lib) => (await lib.findObjects(session, template)).length);
}

function ckaIdOf(id: string): Buffer {
  const entry = tm.lookup(id);
  if (!entry) throw new Error(`no entry ${id}`);
  return entry.ckaId;
}

beforeAll(async () => {
  d = await startTestDaemon();
  kms = coreCaller(d);
  const first = d.daemon.tokens.tokens[0];
  if (!first) throw new Error('no token');
  tm = first;
  scratch = new Scratch();
  ca = makeTestCa();
});

afterAll(async () => {
  await d?.stop();
  scratch?.cleanup();
});

describe('a certificate from CreateCertificate to DeleteCertificate', () => {
  let rsaId: string;
  let ecId: string;
  let rsaCsr: string;
  let rsaCert: string;
  let ecCert: string;
  const message = Buffer.from('signed by a key that never left the token');

  test('CreateCertificate RSA_2048 returns CertificateId, Arn and a CSR that openssl req -verify accepts', async () => {
    const res = await kms('CreateCertificate', {
      Subject: SUBJECT,
      KeySpec: 'RSA_2048',
      SubjectAlternativeNames: JSON.stringify(SANS),
      ExportablePrivateKey: 'true',
    });
    expect(res.statusCode).toBe(200);
    rsaId = String(res.body.CertificateId);
    rsaCsr = String(res.body.Csr);
    expect(rsaId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(res.body.Arn).toBe(`acs:kms:cn-hangzhou:1234567890123456:certificate/${rsaId}`);
    expect(rsaCsr).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n/);
    const csrFile = scratch.file(rsaCsr, 'pem');
    expect(run(['req', '-in', csrFile, '-verify', '-noout'])).toMatch(/verify OK/);
    expect(run(['req', '-in', csrFile, '-noout', '-subject', '-nameopt', 'RFC2253'])).toContain(`subject=${SUBJECT}`);
    const text = run(['req', '-in', csrFile, '-noout', '-text']);
    expect(text).toContain('DNS:lifecycle.example.com, DNS:*.lifecycle.example.com');
    expect(text).toContain('sha256WithRSAEncryption');
    expect(text).toContain('Public-Key: (2048 bit)');
  });

  test('the new private key is in the token: sensitive, never extractable, allowed to sign and decrypt', async () => {
    const entry = tm.lookup(rsaId);
    expect(entry).toMatchObject({ keySpec: 'RSA_2048', canSign: true, canDecrypt: true });
    expect(await privateKeyAttributes(tm, ckaIdOf(rsaId))).toEqual({
      sensitive: true,
      extractable: false,
      alwaysSensitive: true,
      neverExtractable: true,
    });
    // CKA_ID is the identifier's UUID bytes; the metadata object sits beside the keys on the token.
    expect(ckaIdOf(rsaId).toString('hex')).toBe(rsaId.replace(/-/g, ''));
    expect(
      await objects([
        { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_DATA },
        { type: pkcs11.CKA_LABEL, value: rsaId },
      ]),
    ).toBe(1);
  });

  test('CreateCertificate EC_P256 makes an ECDSA CSR; EC_SM2 is 400 Rejected.UnsupportedOperation on this token', async () => {
    const res = await kms('CreateCertificate', {
      Subject: 'CN=ec.example.com,OU=e2e,O=p11bridge tests,C=CN',
      KeySpec: 'EC_P256',
    });
    ecId = String(res.body.CertificateId);
    const csrFile = scratch.file(String(res.body.Csr), 'pem');
    expect(run(['req', '-in', csrFile, '-verify', '-noout'])).toMatch(/verify OK/);
    expect(run(['req', '-in', csrFile, '-noout', '-text'])).toContain('ecdsa-with-SHA256');
    expect(await privateKeyAttributes(tm, ckaIdOf(ecId))).toMatchObject({ sensitive: true, extractable: false });
    expect(tm.lookup(ecId)?.canDecrypt).toBe(false);
    const sm2 = await expectCloudError(() => kms('CreateCertificate', { Subject: SUBJECT, KeySpec: 'EC_SM2' }), {
      statusCode: 400,
      code: 'Rejected.UnsupportedOperation',
    });
    expect(sm2.message).toContain('SM2');
  });

  test('CreateCertificate refuses bad parameters with 400 InvalidParameter before making a key', async () => {
    const keysBefore = await objects([{ type: pkcs11.CKA_CLASS, value: pkcs11.CKO_PRIVATE_KEY }]);
    for (const [query, names] of [
      [{ Subject: 'CN=x,O=y,C=CN', KeySpec: 'RSA_2048' }, 'OU'],
      [{ Subject: 'CN=x,OU=a,O=y,C=China', KeySpec: 'RSA_2048' }, 'Subject'],
      [{ Subject: 'nonsense', KeySpec: 'RSA_2048' }, 'Subject'],
      [{ Subject: SUBJECT, KeySpec: 'RSA_1024' }, 'KeySpec'],
      [{ Subject: SUBJECT, KeySpec: 'EC_P256', SubjectAlternativeNames: 'a.example.com' }, 'SubjectAlternativeNames'],
      [{ Subject: SUBJECT, KeySpec: 'EC_P256', SubjectAlternativeNames: '["not a name"]' }, 'SubjectAlternativeNames'],
      [
        {
          Subject: SUBJECT,
          KeySpec: 'EC_P256',
          SubjectAlternativeNames: JSON.stringify(Array.from({ length: 11 }, (_, i) => `h${i}.example.com`)),
        },
        'at most 10',
      ],
      [{ Subject: SUBJECT, KeySpec: 'EC_P256', ExportablePrivateKey: 'yes' }, 'ExportablePrivateKey'],
      [{ Subject: SUBJECT, KeySpec: 'EC_P256', WarehouseId: '7' }, 'WarehouseId'],
    ] as const) {
      const e = await sdkError(() => kms('CreateCertificate', query));
      expect({ query, statusCode: e.statusCode, code: e.code }).toEqual({
        query,
        statusCode: 400,
        code: 'InvalidParameter',
      });
      expect(e.message).toContain(names);
    }
    expect(await objects([{ type: pkcs11.CKA_CLASS, value: pkcs11.CKO_PRIVATE_KEY }])).toBe(keysBefore);
  });

  test('a PENDING certificate has a CSR and no certificate; it refuses to sign (409 Rejected.Pending)', async () => {
    const got = await kms('GetCertificate', { CertificateId: rsaId });
    expect(got.body).toEqual({ CertificateId: rsaId, Csr: rsaCsr, RequestId: got.body.RequestId });
    const described = await kms('DescribeCertificate', { CertificateId: rsaId });
    expect(described.body).toMatchObject({
      CertificateId: rsaId,
      Status: 'PENDING',
      Subject: SUBJECT,
      KeySpec: 'RSA_2048',
      SignatureAlgorithm: 'RSA2048-SHA256',
      SubjectAlternativeNames: SANS,
      ExportablePrivateKey: false,
      Tags: {},
    });
    expect(described.body).not.toHaveProperty('Serial');
    expect(String(described.body.CreatedAt)).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    await expectCloudError(
      () =>
        kms('CertificatePrivateKeySign', {
          CertificateId: rsaId,
          Algorithm: 'RSA_PKCS1_SHA_256',
          MessageType: 'RAW',
          Message: message.toString('base64'),
        }),
      { statusCode: 409, code: 'Rejected.Pending' },
    );
    await expectCloudError(() => kms('UpdateCertificateStatus', { CertificateId: rsaId, Status: 'ACTIVE' }), {
      statusCode: 409,
      code: 'Rejected.Pending',
    });
    // PENDING identities have no certificate to list.
    const listed = await cas3(d).listCert(new ListCertRequest({}));
    expect(listed.body?.certList?.map((c) => c.identifier)).not.toContain(rsaId);
  });

  test('a PENDING certificate verifies with its key pair: the signature of its CSR is valid, an altered one is not', async () => {
    const der = Buffer.from(rsaCsr.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
    const outer = readTlv(der, 0);
    const info = der.subarray(outer.contentStart, readTlv(der, outer.contentStart).end);
    const signature = Buffer.from(AsnConvert.parse(der, CertificationRequest).signature);
    const verify = async (data: Buffer): Promise<unknown> =>
      (
        await kms('CertificatePublicKeyVerify', {
          CertificateId: rsaId,
          Algorithm: 'RSA_PKCS1_SHA_256',
          MessageType: 'RAW',
          Message: data.toString('base64'),
          SignatureValue: signature.toString('base64'),
        })
      ).body.SignatureValid;
    expect(await verify(info)).toBe(true);
    expect(await verify(Buffer.concat([info, Buffer.from([0])]))).toBe(false);
  });

  test('the test CA issues both CSRs with openssl x509 -req', () => {
    rsaCert = issue(rsaCsr, 'rsa');
    const ecCsr = tm.lookup(ecId)?.metadata.csr ?? '';
    ecCert = issue(ecCsr, 'ec');
    const chainFile = scratch.file(ca.issuingPem, 'pem');
    const rootFile = scratch.file(ca.rootPem, 'pem');
    for (const cert of [rsaCert, ecCert]) {
      expect(run(['verify', '-CAfile', rootFile, '-untrusted', chainFile, scratch.file(cert, 'pem')])).toContain('OK');
    }
    expect(new X509Certificate(rsaCert).subjectAltName).toBe('DNS:lifecycle.example.com, DNS:*.lifecycle.example.com');
  });

  test('UploadCertificate refuses a certificate for another key, garbage, and a chain that does not link (400)', async () => {
    const forEc = await expectCloudError(
      () => kms('UploadCertificate', { CertificateId: rsaId, Certificate: ecCert }),
      { statusCode: 400, code: 'InvalidParameter' },
    );
    expect(forEc.message).toContain('public key');
    for (const query of [
      { CertificateId: rsaId, Certificate: 'not a certificate' },
      { CertificateId: rsaId, Certificate: rsaCsr },
      { CertificateId: rsaId, Certificate: rsaCert + ecCert },
      { CertificateId: rsaId, Certificate: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' },
      { CertificateId: rsaId, Certificate: rsaCert, CertificateChain: ecCert },
      { CertificateId: rsaId, Certificate: rsaCert, CertificateChain: ca.rootPem },
      { CertificateId: rsaId, Certificate: rsaCert, CertificateChain: 'junk' },
    ] as Array<Record<string, string>>) {
      const e = await sdkError(() => kms('UploadCertificate', query));
      expect({ statusCode: e.statusCode, code: e.code }).toEqual({ statusCode: 400, code: 'InvalidParameter' });
    }
    await expectCloudError(() => kms('UploadCertificate', { CertificateId: 'no-such-cert', Certificate: rsaCert }), {
      statusCode: 404,
      code: 'Certificate.NotFound',
    });
    expect(tm.lookup(rsaId)?.metadata.status).toBe('PENDING');
    expect(
      await objects([
        { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_CERTIFICATE },
        { type: pkcs11.CKA_ID, value: ckaIdOf(rsaId) },
      ]),
    ).toBe(0);
  });

  test('UploadCertificate stores the certificate and its chain on the token; the certificate becomes ACTIVE', async () => {
    // The chain in any order: it is stored and returned nearest issuer first.
    const res = await kms('UploadCertificate', {
      CertificateId: rsaId,
      Certificate: rsaCert,
      CertificateChain: ca.rootPem + ca.issuingPem,
    });
    expect(res.body).toEqual({ RequestId: res.body.RequestId });
    await kms('UploadCertificate', { CertificateId: ecId, Certificate: ecCert, CertificateChain: ca.issuingPem });
    expect(
      await objects([
        { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_CERTIFICATE },
        { type: pkcs11.CKA_ID, value: ckaIdOf(rsaId) },
      ]),
    ).toBe(1);
    expect(await objects([{ type: pkcs11.CKA_LABEL, value: `${rsaId}/chain/0` }])).toBe(1);
    expect(await objects([{ type: pkcs11.CKA_LABEL, value: `${rsaId}/chain/1` }])).toBe(1);

    const got = await kms('GetCertificate', { CertificateId: rsaId });
    expect(got.body).toMatchObject({
      CertificateId: rsaId,
      Certificate: rsaCert,
      CertificateChain: ca.issuingPem + ca.rootPem,
      Csr: rsaCsr,
    });
    const x = new X509Certificate(rsaCert);
    const described = await kms('DescribeCertificate', { CertificateId: rsaId });
    expect(described.body).toMatchObject({
      Status: 'ACTIVE',
      Subject: SUBJECT,
      Issuer: 'CN=Test Issuing CA,O=p11bridge tests,C=CN',
      Serial: x.serialNumber.toUpperCase(),
      NotBefore: new Date(x.validFrom).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      NotAfter: new Date(x.validTo).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      SubjectAlternativeNames: SANS,
      SubjectPublicKey: x.publicKey.export({ type: 'spki', format: 'pem' }),
      ExportablePrivateKey: false,
    });
    const ski = run(['x509', '-in', scratch.file(rsaCert, 'pem'), '-noout', '-ext', 'subjectKeyIdentifier']);
    expect(ski).toContain(String(described.body.SubjectKeyIdentifier).replace(/ /g, ':'));
  });

  test('CertificatePrivateKeySign verifies against the issued certificate (node:crypto and openssl)', async () => {
    for (const [id, cert, alg, kind] of [
      [rsaId, rsaCert, 'RSA_PKCS1_SHA_256', 'pkcs1'],
      [rsaId, rsaCert, 'RSA_PSS_SHA_256', 'pss'],
      [ecId, ecCert, 'ECDSA_SHA_256', 'ecdsa'],
    ] as const) {
      const res = await kms('CertificatePrivateKeySign', {
        CertificateId: id,
        Algorithm: alg,
        MessageType: 'RAW',
        Message: message.toString('base64'),
      });
      const sig = Buffer.from(String(res.body.SignatureValue), 'base64');
      expect(nodeVerify(cert, kind, message, sig)).toBe(true);
      const o = opensslVerifyData(scratch, cert, kind, message, sig);
      expect(o.output).toContain('Verified OK');
    }
  });

  test('ListCert and the CAS operations see the uploaded certificate', async () => {
    const list = await cas3(d).listCert(new ListCertRequest({ keyWord: 'lifecycle.example' }));
    expect(list.body?.certList).toEqual([
      expect.objectContaining({
        identifier: rsaId,
        status: 'ISSUE',
        certType: 'CERT',
        commonName: 'lifecycle.example.com',
        issuer: 'Test Issuing CA',
        sans: SANS.join(','),
      }),
    ]);
    const signed = await casSign(cas3(d), {
      certIdentifier: rsaId,
      message: 'cas',
      messageType: 'RAW',
      signingAlgorithm: 'SHA256withRSA',
    });
    expect(nodeVerify(rsaCert, 'pkcs1', Buffer.from('cas'), Buffer.from(signed.signature ?? '', 'base64'))).toBe(true);
  });

  describe('encryption with the algorithms the token supports', () => {
    const supported = (): string[] => [...tm.capabilities.decryptionAlgorithms];

    test('KMS CertificatePublicKeyEncrypt → CertificatePrivateKeyDecrypt round-trips, up to the size limit', async () => {
      expect(supported()).toEqual(['RSAES_OAEP_SHA_1']);
      for (const algorithm of supported()) {
        for (const plaintext of [Buffer.from('x'), randomBytes(214)]) {
          const enc = await kms('CertificatePublicKeyEncrypt', {
            CertificateId: rsaId,
            Algorithm: algorithm,
            Plaintext: plaintext.toString('base64'),
          });
          expect(enc.body.CertificateId).toBe(rsaId);
          const blob = String(enc.body.CiphertextBlob);
          expect(Buffer.from(blob, 'base64')).toHaveLength(256);
          const dec = await kms('CertificatePrivateKeyDecrypt', {
            CertificateId: rsaId,
            Algorithm: algorithm,
            CiphertextBlob: blob,
          });
          expect(Buffer.from(String(dec.body.Plaintext), 'base64').equals(plaintext)).toBe(true);
        }
        const tooBig = await expectCloudError(
          () =>
            kms('CertificatePublicKeyEncrypt', {
              CertificateId: rsaId,
              Algorithm: algorithm,
              Plaintext: randomBytes(215).toString('base64'),
            }),
          { statusCode: 400, code: 'InvalidParameter' },
        );
        expect(tooBig.message).toContain('214');
      }
    });

    test('the token decrypts what node:crypto encrypted with the issued certificate (OAEP SHA-1)', async () => {
      const secret = Buffer.from('independently encrypted');
      const blob = publicEncrypt(
        { key: new X509Certificate(rsaCert).publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
        secret,
      );
      const dec = await kms('CertificatePrivateKeyDecrypt', {
        CertificateId: rsaId,
        Algorithm: 'RSAES_OAEP_SHA_1',
        CiphertextBlob: blob.toString('base64'),
      });
      expect(Buffer.from(String(dec.body.Plaintext), 'base64').toString()).toBe('independently encrypted');
    });

    test('CAS Encrypt → Decrypt round-trips as RAW text and as Base64 (CAS spelling RSAESOAEPSHA_1 accepted)', async () => {
      const client = cas3(d);
      const enc = await client.encrypt(
        new EncryptRequest({ certIdentifier: rsaId, algorithm: 'RSAESOAEPSHA_1', plaintext: 'héllo wörld' }),
      );
      expect(enc.body?.certIdentifier).toBe(rsaId);
      const raw = await client.decrypt(
        new DecryptRequest({
          certIdentifier: rsaId,
          algorithm: 'RSAES_OAEP_SHA_1',
          ciphertextBlob: enc.body?.ciphertextBlob,
          messageType: 'RAW',
        }),
      );
      expect(raw.body?.plaintext).toBe('héllo wörld');
      const b64 = await client.decrypt(
        new DecryptRequest({
          certIdentifier: rsaId,
          algorithm: 'RSAES_OAEP_SHA_1',
          ciphertextBlob: enc.body?.ciphertextBlob,
        }),
      );
      expect(Buffer.from(b64.body?.plaintext ?? '', 'base64').toString()).toBe('héllo wörld');
      const binary = await client.encrypt(
        new EncryptRequest({
          certIdentifier: rsaId,
          algorithm: 'RSAES_OAEP_SHA_1',
          plaintext: Buffer.from([0xff, 0xfe, 0]).toString('base64'),
          messageType: 'Base64',
        }),
      );
      const back = await client.decrypt(
        new DecryptRequest({
          certIdentifier: rsaId,
          algorithm: 'RSAES_OAEP_SHA_1',
          ciphertextBlob: binary.body?.ciphertextBlob,
        }),
      );
      expect(back.body?.plaintext).toBe(Buffer.from([0xff, 0xfe, 0]).toString('base64'));
      await expectCloudError(
        () =>
          client.decrypt(
            new DecryptRequest({
              certIdentifier: rsaId,
              algorithm: 'RSAES_OAEP_SHA_1',
              ciphertextBlob: binary.body?.ciphertextBlob,
              messageType: 'RAW',
            }),
          ),
        { statusCode: 400, code: 'InvalidParameter' },
      );
    });

    test('RSAES_OAEP_SHA_256 is 400 Rejected.UnsupportedOperation (KMS) / UnsupportedOperation (CAS) on this token, for decryption and encryption alike', async () => {
      const blob = publicEncrypt(
        { key: new X509Certificate(rsaCert).publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        Buffer.from('sha-256'),
      ).toString('base64');
      const dec = await expectCloudError(
        () =>
          kms('CertificatePrivateKeyDecrypt', {
            CertificateId: rsaId,
            Algorithm: 'RSAES_OAEP_SHA_256',
            CiphertextBlob: blob,
          }),
        { statusCode: 400, code: 'Rejected.UnsupportedOperation' },
      );
      expect(dec.message).toContain('RSAES_OAEP_SHA_256');
      await expectCloudError(
        () =>
          kms('CertificatePublicKeyEncrypt', {
            CertificateId: rsaId,
            Algorithm: 'RSAES_OAEP_SHA_256',
            Plaintext: 'aGk=',
          }),
        { statusCode: 400, code: 'Rejected.UnsupportedOperation' },
      );
      await expectCloudError(
        () =>
          cas3(d).decrypt(
            new DecryptRequest({ certIdentifier: rsaId, algorithm: 'RSAES_OAEP_SHA_256', ciphertextBlob: blob }),
          ),
        { statusCode: 400, code: 'UnsupportedOperation' },
      );
    });

    test('garbage ciphertext is 400 InvalidParameter, not a 500, and the token keeps decrypting', async () => {
      for (const blob of [
        randomBytes(256),
        Buffer.alloc(256),
        randomBytes(255),
        randomBytes(300),
        Buffer.alloc(256, 0xff),
      ]) {
        const e = await sdkError(() =>
          kms('CertificatePrivateKeyDecrypt', {
            CertificateId: rsaId,
            Algorithm: 'RSAES_OAEP_SHA_1',
            CiphertextBlob: blob.toString('base64'),
          }),
        );
        expect({ statusCode: e.statusCode, code: e.code }).toEqual({ statusCode: 400, code: 'InvalidParameter' });
        expect(e.message).toContain('CiphertextBlob');
        expect(e.message).not.toMatch(/CKR_/);
      }
      await expectCloudError(
        () =>
          kms('CertificatePrivateKeyDecrypt', {
            CertificateId: rsaId,
            Algorithm: 'RSAES_OAEP_SHA_1',
            CiphertextBlob: '***',
          }),
        { statusCode: 400, code: 'InvalidParameter' },
      );
      const enc = await kms('CertificatePublicKeyEncrypt', {
        CertificateId: rsaId,
        Algorithm: 'RSAES_OAEP_SHA_1',
        Plaintext: 'c3RpbGwgd29ya3M=',
      });
      const dec = await kms('CertificatePrivateKeyDecrypt', {
        CertificateId: rsaId,
        Algorithm: 'RSAES_OAEP_SHA_1',
        CiphertextBlob: String(enc.body.CiphertextBlob),
      });
      expect(dec.body.Plaintext).toBe('c3RpbGwgd29ya3M=');
      expect(d.logText()).not.toContain('"level":50');
    });
  });

  test('INACTIVE refuses signing, decryption, encryption and verification (409 Rejected.Disabled); ACTIVE restores them', async () => {
    await kms('UpdateCertificateStatus', { CertificateId: rsaId, Status: 'INACTIVE' });
    const signQuery = {
      CertificateId: rsaId,
      Algorithm: 'RSA_PKCS1_SHA_256',
      MessageType: 'RAW',
      Message: message.toString('base64'),
    };
    for (const [action, query] of [
      ['CertificatePrivateKeySign', signQuery],
      ['CertificatePublicKeyVerify', { ...signQuery, SignatureValue: 'AAAA' }],
      ['CertificatePublicKeyEncrypt', { CertificateId: rsaId, Algorithm: 'RSAES_OAEP_SHA_1', Plaintext: 'aGk=' }],
      [
        'CertificatePrivateKeyDecrypt',
        { CertificateId: rsaId, Algorithm: 'RSAES_OAEP_SHA_1', CiphertextBlob: randomBytes(256).toString('base64') },
      ],
    ] as const) {
      const e = await sdkError(() => kms(action, query));
      expect({ action, statusCode: e.statusCode, code: e.code }).toEqual({
        action,
        statusCode: 409,
        code: 'Rejected.Disabled',
      });
    }
    await expectCloudError(
      () =>
        casSign(cas3(d), {
          certIdentifier: rsaId,
          message: 'x',
          messageType: 'RAW',
          signingAlgorithm: 'SHA256withRSA',
        }),
      { statusCode: 409, code: 'Rejected.Disabled' },
    );
    expect((await kms('DescribeCertificate', { CertificateId: rsaId })).body.Status).toBe('INACTIVE');

    // The state is on the token: another manager of the same token (another daemon) reads it from there.
    const other = await openToken(d.token);
    try {
      expect(other.lookup(rsaId)?.metadata.status).toBe('INACTIVE');
    } finally {
      await other.close();
    }

    await kms('UpdateCertificateStatus', { CertificateId: rsaId, Status: 'ACTIVE' });
    const ok = await kms('CertificatePrivateKeySign', signQuery);
    expect(nodeVerify(rsaCert, 'pkcs1', message, Buffer.from(String(ok.body.SignatureValue), 'base64'))).toBe(true);
  });

  test('REVOKED refuses signing (409 Rejected.Revoked) but still verifies; ListCert shows REVOKE', async () => {
    const signed = await kms('CertificatePrivateKeySign', {
      CertificateId: ecId,
      Algorithm: 'ECDSA_SHA_256',
      MessageType: 'RAW',
      Message: message.toString('base64'),
    });
    await kms('UpdateCertificateStatus', { CertificateId: ecId, Status: 'REVOKED' });
    await expectCloudError(
      () =>
        kms('CertificatePrivateKeySign', {
          CertificateId: ecId,
          Algorithm: 'ECDSA_SHA_256',
          MessageType: 'RAW',
          Message: message.toString('base64'),
        }),
      { statusCode: 409, code: 'Rejected.Revoked' },
    );
    const verified = await kms('CertificatePublicKeyVerify', {
      CertificateId: ecId,
      Algorithm: 'ECDSA_SHA_256',
      MessageType: 'DIGEST',
      Message: createHash('sha256').update(message).digest('base64'),
      SignatureValue: String(signed.body.SignatureValue),
    });
    expect(verified.body.SignatureValid).toBe(true);
    const casVerified = await cas3(d).verify(
      new VerifyRequest({
        certIdentifier: ecId,
        message: message.toString(),
        messageType: 'RAW',
        signingAlgorithm: 'SHA256withECDSA',
        signatureValue: String(signed.body.SignatureValue),
      }),
    );
    expect(casVerified.body?.signatureValid).toBe(true);
    const revoked = await cas3(d).listCert(new ListCertRequest({ status: 'REVOKE' }));
    expect(revoked.body?.certList?.map((c) => c.identifier)).toEqual([ecId]);
    const described = await kms('DescribeWarehouseCert', { CertIdentifier: ecId }, CAS_VERSION);
    expect(described.body.CertStatus).toBe('revoked');
    await kms('UpdateCertificateStatus', { CertificateId: ecId, Status: 'ACTIVE' });
    await expectCloudError(() => kms('UpdateCertificateStatus', { CertificateId: ecId, Status: 'PENDING' }), {
      statusCode: 400,
      code: 'InvalidParameter',
    });
  });

  test('uploading again (renewal) replaces the certificate and chain objects and keeps the status', async () => {
    await kms('UpdateCertificateStatus', { CertificateId: rsaId, Status: 'INACTIVE' });
    const renewed = issue(rsaCsr, 'rsa-renewed');
    expect(new X509Certificate(renewed).serialNumber).not.toBe(new X509Certificate(rsaCert).serialNumber);
    await kms('UploadCertificate', { CertificateId: rsaId, Certificate: renewed, CertificateChain: ca.issuingPem });
    expect(
      await objects([
        { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_CERTIFICATE },
        { type: pkcs11.CKA_ID, value: ckaIdOf(rsaId) },
      ]),
    ).toBe(1);
    expect(await objects([{ type: pkcs11.CKA_LABEL, value: `${rsaId}/chain/0` }])).toBe(1);
    expect(await objects([{ type: pkcs11.CKA_LABEL, value: `${rsaId}/chain/1` }])).toBe(0);
    const got = await kms('GetCertificate', { CertificateId: rsaId });
    expect(got.body.Certificate).toBe(renewed);
    expect(got.body.CertificateChain).toBe(ca.issuingPem);
    expect((await kms('DescribeCertificate', { CertificateId: rsaId })).body.Status).toBe('INACTIVE');
    await kms('UpdateCertificateStatus', { CertificateId: rsaId, Status: 'ACTIVE' });
    rsaCert = renewed;
  });

  test('DeleteCertificate destroys the key pair, certificate, chain and metadata; then Certificate.NotFound', async () => {
    const ckaId = ckaIdOf(rsaId);
    const res = await kms('DeleteCertificate', { CertificateId: rsaId });
    expect(res.body).toEqual({ RequestId: res.body.RequestId });
    expect(await objects([{ type: pkcs11.CKA_ID, value: ckaId }])).toBe(0);
    expect(await objects([{ type: pkcs11.CKA_LABEL, value: rsaId }])).toBe(0);
    expect(await objects([{ type: pkcs11.CKA_LABEL, value: `${rsaId}/chain/0` }])).toBe(0);
    expect(await privateKeyAttributes(tm, ckaId)).toBeUndefined();
    for (const [action, query] of [
      ['GetCertificate', { CertificateId: rsaId }],
      ['DescribeCertificate', { CertificateId: rsaId }],
      ['DeleteCertificate', { CertificateId: rsaId }],
      [
        'CertificatePrivateKeySign',
        { CertificateId: rsaId, Algorithm: 'RSA_PKCS1_SHA_256', MessageType: 'RAW', Message: 'YQ==' },
      ],
    ] as const) {
      const e = await sdkError(() => kms(action, query));
      expect({ action, statusCode: e.statusCode, code: e.code }).toEqual({
        action,
        statusCode: 404,
        code: 'Certificate.NotFound',
      });
    }
    // The other identities are untouched.
    expect(tm.lookup(ecId)?.certificate).toBeDefined();
    expect(d.certificates.every((c) => tm.lookup(c.id) !== undefined)).toBe(true);
    await kms('DeleteCertificate', { CertificateId: ecId });
    expect(tm.entries().filter((e) => !e.isCA)).toHaveLength(2);
  });
});
