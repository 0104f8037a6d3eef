import { createHash } from 'node:crypto';
import * as pkcs11 from 'pkcs11js';
import {
  CAS_SIGNATURE_NAMES,
  KMS_SIGNATURE_NAMES,
  casSignatureAlgorithm,
  blindSigningAlgorithm,
  encryptionAlgorithm,
  keySpecRow,
  kmsEncryptionAlgorithmsFor,
  kmsSignatureAlgorithm,
  kmsSigningAlgorithmsFor,
  type SignatureAlgorithm,
} from '../../../src/crypto/algorithms';
import { encodeSignature, planSignature, tokenSupports } from '../../../src/crypto/signPlan';
import { PlanError } from '../../../src/crypto/planError';
import { toApiError } from '../../../src/api/lowerFloorErrors';

const row = (name: string): SignatureAlgorithm => {
  const r = kmsSignatureAlgorithm(name) ?? casSignatureAlgorithm(name);
  if (!r) throw new Error(`no row ${name}`);
  return r;
};

/** SoftHSM2 2.6.1's relevant mechanisms: no CKM_ECDSA_SHA256 (facts §1). */
const SOFTHSM = new Set([
  pkcs11.CKM_SHA256_RSA_PKCS,
  pkcs11.CKM_RSA_PKCS,
  pkcs11.CKM_SHA256_RSA_PKCS_PSS,
  pkcs11.CKM_RSA_PKCS_PSS,
  pkcs11.CKM_ECDSA,
]);
const DIGEST_INFO_SHA256 = Buffer.from('3031300d060960864801650304020105000420', 'hex');

describe('algorithm table', () => {
  it('sees each shared algorithm under both product names as one row', () => {
    expect(kmsSignatureAlgorithm('RSA_PKCS1_SHA_256')).toBe(casSignatureAlgorithm('SHA256withRSA'));
    expect(kmsSignatureAlgorithm('RSA_PSS_SHA_256')).toBe(casSignatureAlgorithm('SHA256withRSA/PSS'));
    expect(kmsSignatureAlgorithm('ECDSA_SHA_256')).toBe(casSignatureAlgorithm('SHA256withECDSA'));
    expect(kmsSignatureAlgorithm('SM2DSA')).toBe(casSignatureAlgorithm('SM3withSM2'));
    expect(casSignatureAlgorithm('SHA256withRSA/P7')?.encoding).toBe('cms');
    expect(KMS_SIGNATURE_NAMES).toEqual(['RSA_PKCS1_SHA_256', 'RSA_PSS_SHA_256', 'ECDSA_SHA_256', 'SM2DSA']);
    expect(CAS_SIGNATURE_NAMES).toEqual([
      'SHA256withRSA',
      'SHA256withRSA/PSS',
      'SHA256withECDSA',
      'SM3withSM2',
      'SHA256withRSA/P7',
    ]);
    expect(kmsSignatureAlgorithm('SHA256withRSA')).toBeUndefined();
    expect(casSignatureAlgorithm('RSA_PKCS1_SHA_256')).toBeUndefined();
  });

  it('pairs every algorithm with the key type and spec the API pages give', () => {
    expect(row('RSA_PKCS1_SHA_256')).toMatchObject({ keyType: 'RSA', hash: 'sha256', digestLength: 32 });
    expect(row('RSA_PKCS1_SHA_256').keySpecs).toContain('RSA_2048');
    expect(row('ECDSA_SHA_256')).toMatchObject({
      keyType: 'EC',
      keySpecs: ['EC_P256', 'EC_P256K'],
      encoding: 'ecdsa-der',
    });
    expect(row('SM2DSA')).toMatchObject({ keyType: 'SM2', keySpecs: ['EC_SM2'], hash: 'sm3', vendorProfile: 'sm2' });
  });

  it('signs a RAW message with CKM_SHA256_RSA_PKCS and a DIGEST with CKM_RSA_PKCS over the SHA-256 DigestInfo', () => {
    const data = Buffer.from('abc');
    const digest = createHash('sha256').update(data).digest();
    const raw = planSignature(row('SHA256withRSA'), { kind: 'message', data }, SOFTHSM);
    expect(raw.mechanism.mechanism).toBe(pkcs11.CKM_SHA256_RSA_PKCS);
    expect(raw.data).toBe(data);
    const pre = planSignature(row('SHA256withRSA'), { kind: 'digest', digest }, SOFTHSM);
    expect(pre.mechanism.mechanism).toBe(pkcs11.CKM_RSA_PKCS);
    expect(pre.data).toEqual(Buffer.concat([DIGEST_INFO_SHA256, digest]));
  });

  it('gives RSA-PSS SHA-256 with MGF1-SHA-256 and a 32-byte salt, on the message or on the bare digest', () => {
    const data = Buffer.from('abc');
    const raw = planSignature(row('RSA_PSS_SHA_256'), { kind: 'message', data }, SOFTHSM);
    const params = {
      type: pkcs11.CK_PARAMS_RSA_PSS,
      hashAlg: pkcs11.CKM_SHA256,
      mgf: pkcs11.CKG_MGF1_SHA256,
      saltLen: 32,
    };
    expect(raw.mechanism).toEqual({ mechanism: pkcs11.CKM_SHA256_RSA_PKCS_PSS, parameter: params });
    const pre = planSignature(row('RSA_PSS_SHA_256'), { kind: 'message', data }, new Set([pkcs11.CKM_RSA_PKCS_PSS]));
    expect(pre.mechanism).toEqual({ mechanism: pkcs11.CKM_RSA_PKCS_PSS, parameter: params });
    expect(pre.data).toEqual(createHash('sha256').update(data).digest());
  });

  it('hashes in software and uses CKM_ECDSA when the token lacks CKM_ECDSA_SHA256, and the combined mechanism when it has it', () => {
    const data = Buffer.from('abc');
    const soft = planSignature(row('ECDSA_SHA_256'), { kind: 'message', data }, SOFTHSM);
    expect(soft.mechanism.mechanism).toBe(pkcs11.CKM_ECDSA);
    expect(soft.data).toEqual(createHash('sha256').update(data).digest());
    const hsm = planSignature(
      row('ECDSA_SHA_256'),
      { kind: 'message', data },
      new Set([pkcs11.CKM_ECDSA_SHA256, pkcs11.CKM_ECDSA]),
    );
    expect(hsm.mechanism.mechanism).toBe(pkcs11.CKM_ECDSA_SHA256);
    expect(hsm.data).toBe(data);
  });

  it('refuses a digest of the wrong length and an algorithm the token cannot do', () => {
    expect(() => planSignature(row('ECDSA_SHA_256'), { kind: 'digest', digest: Buffer.alloc(20) }, SOFTHSM)).toThrow(
      /32 bytes/,
    );
    expect(() => planSignature(row('ECDSA_SHA_256'), { kind: 'digest', digest: Buffer.alloc(32) }, new Set())).toThrow(
      /not supported/,
    );
    // Crypto's own error, whose reason the one translator (src/api/lowerFloorErrors.ts) answers as InvalidParameter, as before.
    for (const [digest, mechanisms] of [
      [Buffer.alloc(20), SOFTHSM],
      [Buffer.alloc(32), new Set<number>()],
    ] as const) {
      let thrown: unknown;
      try {
        planSignature(row('ECDSA_SHA_256'), { kind: 'digest', digest }, mechanisms);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(PlanError);
      expect(toApiError(thrown)).toMatchObject({ code: 'InvalidParameter', status: 400 });
    }
    expect(tokenSupports(row('ECDSA_SHA_256'), SOFTHSM)).toBe(true);
    expect(tokenSupports(row('SM2DSA'), SOFTHSM)).toBe(false);
  });

  it('returns ECDSA as DER and RSA as is', () => {
    const raw = Buffer.concat([Buffer.alloc(32, 0x80), Buffer.alloc(32, 0x01)]);
    const der = encodeSignature(row('ECDSA_SHA_256'), raw);
    expect(der[0]).toBe(0x30);
    expect(der.length).toBe(2 + 2 + 33 + 2 + 32);
    const rsa = Buffer.alloc(256, 7);
    expect(encodeSignature(row('RSA_PKCS1_SHA_256'), rsa)).toBe(rsa);
  });

  it('maps encryption algorithm names, including the spelling in the CAS metadata', () => {
    expect(encryptionAlgorithm('RSAESOAEPSHA_1')?.name).toBe('RSAES_OAEP_SHA_1');
    expect(encryptionAlgorithm('RSAES_OAEP_SHA_256')?.decrypt?.parameter).toMatchObject({
      hashAlg: pkcs11.CKM_SHA256,
      mgf: pkcs11.CKG_MGF1_SHA256,
    });
    expect(encryptionAlgorithm('RSA_OAEP')).toBeUndefined();
  });

  it('answers fit-to-key: key type, and the key spec when known', () => {
    expect(row('ECDSA_SHA_256').fitsKey({ keyType: 'EC', keySpec: 'EC_P256K' })).toBe(true);
    expect(row('ECDSA_SHA_256').fitsKey({ keyType: 'EC', keySpec: 'EC_P384' })).toBe(false);
    expect(row('ECDSA_SHA_256').fitsKey({ keyType: 'RSA', keySpec: 'RSA_2048' })).toBe(false);
    expect(row('SM2DSA').fitsKey({ keyType: 'SM2' })).toBe(true);
    expect(encryptionAlgorithm('SM2PKE')?.fitsKey({ keyType: 'RSA' })).toBe(false);
    expect(encryptionAlgorithm('RSAES_OAEP_SHA_1')?.fitsKey({ keyType: 'RSA', keySpec: 'RSA_4096' })).toBe(true);
  });

  it('lists the KMS algorithms of each key spec from the rows (alibaba-kms-keys.md §5.3)', () => {
    const signing = (spec: string): string[] => kmsSigningAlgorithmsFor(spec).map((a) => a.label);
    expect(signing('RSA_2048')).toEqual(['RSA_PKCS1_SHA_256', 'RSA_PSS_SHA_256']);
    expect(signing('EC_P256K')).toEqual(['ECDSA_SHA_256']);
    expect(signing('EC_SM2')).toEqual(['SM2DSA']);
    const encrypting = (spec: string): string[] => kmsEncryptionAlgorithmsFor(spec).map((a) => a.name);
    expect(encrypting('RSA_3072')).toEqual(['RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256']);
    expect(encrypting('EC_SM2')).toEqual(['SM2PKE']);
    expect(encrypting('EC_P256')).toEqual([]);
  });

  it('words a missing capability once: SM2 rows name the HSM profile, standard rows the token', () => {
    const where = 'the token behind warehouse 3';
    expect(row('SM2DSA').unavailableOn(where, 'SM3withSM2')).toBe(
      'SM3withSM2 needs SM2, which the token behind warehouse 3 does not offer (no SM2 HSM profile).',
    );
    expect(row('RSA_PSS_SHA_256').unavailableOn(where)).toBe(
      'RSA_PSS_SHA_256 is not supported by the token behind warehouse 3.',
    );
    expect(keySpecRow('EC_SM2')?.unavailableOn(where)).toBe(
      'KeySpec EC_SM2 needs SM2, which the token behind warehouse 3 does not offer (no SM2 HSM profile).',
    );
    expect(encryptionAlgorithm('SM2PKE')?.servedBy(undefined)).toBe(false);
    expect(encryptionAlgorithm('RSAES_OAEP_SHA_256')?.servedBy(undefined)).toBe(true);
    expect(row('SM2DSA').tokenWide && !row('ECDSA_SHA_256').tokenWide).toBe(true);
    expect(row('SHA256withRSA/P7').verifiable || blindSigningAlgorithm().verifiable).toBe(false);
  });
});
