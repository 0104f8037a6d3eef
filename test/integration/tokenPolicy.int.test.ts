import * as pkcs11 from 'pkcs11js';
import { kmsSignatureAlgorithm, casSignatureAlgorithm } from '../../src/crypto/algorithms';
import { generateKeyPair, privateKeyAttributes } from '../../src/token/objects';
import { keySpecRow } from '../../src/crypto/algorithms';
import {
  createTestToken,
  generateCarelessKeyPair,
  openToken,
  provisionTestToken,
  type TestToken,
} from '../helpers/token';

describe('key policy and capability probe (real SoftHSM2 token)', () => {
  let t: TestToken;

  beforeAll(async () => {
    t = createTestToken();
    await provisionTestToken(t);
    // An extractable, non-sensitive key, as a careless import would leave it.
    const token = await openToken(t);
    try {
      await generateCarelessKeyPair(token, 'careless');
    } finally {
      await token.close();
    }
  });

  afterAll(() => t.cleanup());

  it('refuses to serve a private key that is extractable or not sensitive (insecureKeys: refuse)', async () => {
    const token = await openToken(t);
    try {
      expect(token.lookup('careless')).toBeUndefined();
      expect(token.entries().filter((e) => !e.isCA)).toHaveLength(2);
    } finally {
      await token.close();
    }
  });

  it('serves it with a warning when configured insecureKeys: warn', async () => {
    const token = await openToken(t, { insecureKeys: 'warn' });
    try {
      expect(token.lookup('careless')?.extractable).toBe(true);
    } finally {
      await token.close();
    }
  });

  it('generates keys that read back sensitive, never extractable and always sensitive', async () => {
    const token = await openToken(t);
    try {
      const spec = keySpecRow('EC_P256');
      if (!spec) throw new Error('row');
      const ckaId = Buffer.from('fresh-key');
      await generateKeyPair(token, spec, 'fresh', ckaId, 'sign');
      expect(await privateKeyAttributes(token, ckaId)).toEqual({
        sensitive: true,
        extractable: false,
        alwaysSensitive: true,
        neverExtractable: true,
      });
    } finally {
      await token.close();
    }
  });

  it('probes what SoftHSM2 2.6.1 can do: RSA PKCS#1/PSS, ECDSA through CKM_ECDSA, CMS over RSA; no SM2, no CKM_ECDSA_SHA256', async () => {
    const token = await openToken(t);
    try {
      const caps = token.capabilities;
      expect(caps.signatureAlgorithms).toEqual(
        expect.arrayContaining(['RSA_PKCS1_SHA_256', 'RSA_PSS_SHA_256', 'ECDSA_SHA_256', 'RSA_P7_SHA_256']),
      );
      expect(caps.signatureAlgorithms).not.toContain('SM2DSA');
      expect(caps.mechanisms.has(pkcs11.CKM_ECDSA_SHA256)).toBe(false);
      expect(caps.mechanisms.has(pkcs11.CKM_ECDSA)).toBe(true);
      // SoftHSM2 2.6.1 lists CKM_RSA_PKCS_OAEP but refuses SHA-256 parameters: the functional probe notices.
      expect(caps.decryptionAlgorithms).toEqual(['RSAES_OAEP_SHA_1']);
      const rsa = token.entries().find((e) => e.keySpec === 'RSA_2048');
      const ec = token.entries().find((e) => e.keySpec === 'EC_P256' && !e.isCA);
      if (!rsa || !ec) throw new Error('demo keys missing');
      const sm2 = kmsSignatureAlgorithm('SM2DSA');
      const ecdsa = casSignatureAlgorithm('SHA256withECDSA');
      if (!sm2 || !ecdsa) throw new Error('rows missing');
      expect(token.supports(ec, ecdsa)).toBe(true);
      expect(token.supports(rsa, ecdsa)).toBe(false);
      expect(token.supports(ec, sm2)).toBe(false);
    } finally {
      await token.close();
    }
  });
});
