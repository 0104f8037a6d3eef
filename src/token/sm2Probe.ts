import * as pkcs11 from 'pkcs11js';
import {
  sm2Rows,
  type EncryptionAlgorithm,
  type KeySpec,
  type SignatureAlgorithm,
  type Sm2Profile,
} from '../crypto/algorithms';
import { ecParamsFor, ecSpki } from '../crypto/keys';
import { encodeSignature, planSignature, tokenSupports } from '../crypto/signPlan';
import { sm2EncryptParts, sm2PublicPointOfSpki, sm2Verify } from '../crypto/sm2';
import { keyGenerationMechanism, planSm2Decryption } from '../crypto/sm2Plan';
import { getAttributes } from './attributes';
import { ckrName, ckrOf } from './ckr';

/** What an SM2 HSM profile proved on its token. */
export interface Sm2Capabilities {
  readonly signatureAlgorithms: readonly SignatureAlgorithm['id'][];
  readonly decryptionAlgorithms: readonly EncryptionAlgorithm['name'][];
  readonly keySpecs: readonly KeySpec[];
  /** Why a role of the profile does not work here, for the log (empty when everything does). */
  readonly problems: readonly string[];
}

const PROBE = Buffer.from('p11bridge SM2 profile probe');
/** SM3("abc"), GB/T 32905-2016 Appendix A.1. */
const SM3_ABC = '66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0';

const hex = (n: number | undefined): string => (n === undefined ? 'none' : `0x${n.toString(16)}`);
const why = (e: unknown): string => {
  const code = ckrOf(e);
  return code !== undefined ? ckrName(code) : e instanceof Error ? e.message : String(e);
};

/**
 * Proves an SM2 HSM profile on its token before any request relies on it, as probe.ts does for RSA-OAEP: a listed
 * mechanism number may belong to another vendor, or behave differently from the profile. On a throwaway session
 * key pair (CKA_TOKEN false: gone when the session closes) it generates, signs a message the way the API would and
 * verifies the signature in software with the profile's user ID, encrypts in software and decrypts in the token,
 * and checks the SM3 mechanism against the GB/T 32905 example. Each role that fails is left out and explained.
 */
export function probeSm2(
  lib: pkcs11.PKCS11,
  slot: pkcs11.Handle,
  mechanisms: ReadonlySet<number>,
  profile: Sm2Profile,
): Sm2Capabilities {
  const problems: string[] = [];
  const { sign: signRow, encrypt: cryptRow, keySpec: keyRow } = sm2Rows();
  const none = (): Sm2Capabilities => ({ signatureAlgorithms: [], decryptionAlgorithms: [], keySpecs: [], problems });
  const generate = keyRow && keyGenerationMechanism(keyRow, profile);
  if (!signRow || !cryptRow || !keyRow || generate === undefined) return none();
  if (!mechanisms.has(generate)) {
    problems.push(`keyPairGen ${hex(generate)} is not in the token's mechanism list`);
    return none();
  }
  const encrypt = profile.mechanisms.encrypt;
  const canSign = tokenSupports(signRow, mechanisms, profile);
  if (!canSign) {
    const { sign, sm3WithSm2 } = profile.mechanisms;
    problems.push(`neither sign (${hex(sign)}) nor sm3WithSm2 (${hex(sm3WithSm2)}) is in the token's mechanism list`);
  }
  if (encrypt !== undefined && !mechanisms.has(encrypt)) {
    problems.push(`encrypt ${hex(encrypt)} is not in the token's mechanism list`);
  }
  const session = lib.C_OpenSession(slot, pkcs11.CKF_SERIAL_SESSION);
  try {
    let keys: pkcs11.KeyPair;
    let point: Buffer;
    try {
      const common = [
        { type: pkcs11.CKA_TOKEN, value: false },
        { type: pkcs11.CKA_KEY_TYPE, value: profile.keyType },
      ];
      keys = lib.C_GenerateKeyPair(
        session,
        { mechanism: generate },
        [
          ...common,
          ...(profile.keyGenEcParams ? [{ type: pkcs11.CKA_EC_PARAMS, value: ecParamsFor('SM2') }] : []),
          { type: pkcs11.CKA_VERIFY, value: true },
          { type: pkcs11.CKA_ENCRYPT, value: encrypt !== undefined },
        ],
        [
          ...common,
          { type: pkcs11.CKA_SENSITIVE, value: true },
          { type: pkcs11.CKA_EXTRACTABLE, value: false },
          { type: pkcs11.CKA_SIGN, value: true },
          { type: pkcs11.CKA_DECRYPT, value: encrypt !== undefined },
        ],
      );
      const ecPoint = getAttributes(lib, session, keys.publicKey, [pkcs11.CKA_EC_POINT]).get(pkcs11.CKA_EC_POINT);
      point = sm2PublicPointOfSpki(ecSpki(ecParamsFor('SM2'), ecPoint ?? Buffer.alloc(0)));
    } catch (e) {
      problems.push(`keyPairGen ${hex(generate)} did not make an SM2 key pair: ${why(e)}`);
      return none();
    }
    let signs = false;
    if (canSign) {
      try {
        const plan = planSignature(signRow, { kind: 'message', data: PROBE }, mechanisms, {
          profile,
          publicPoint: point,
        });
        lib.C_SignInit(session, plan.mechanism, keys.privateKey);
        const out = lib.C_Sign(session, plan.data, Buffer.alloc(profile.signatureFormat === 'der' ? 72 : 64));
        signs = sm2Verify(point, PROBE, encodeSignature(signRow, out, profile.signatureFormat), profile.userId);
        if (!signs) problems.push(`${hex(plan.mechanism.mechanism)} made a signature that does not verify as SM2`);
      } catch (e) {
        problems.push(`SM2 signing failed: ${why(e)}`);
      }
    }
    let decrypts = false;
    if (encrypt !== undefined && mechanisms.has(encrypt)) {
      try {
        const plan = planSm2Decryption(cryptRow, profile, sm2EncryptParts(point, PROBE));
        lib.C_DecryptInit(session, plan.mechanism, keys.privateKey);
        decrypts = lib.C_Decrypt(session, plan.data, Buffer.alloc(plan.data.length)).equals(PROBE);
        if (!decrypts) problems.push(`encrypt ${hex(encrypt)} did not give back the plaintext`);
      } catch (e) {
        problems.push(`encrypt ${hex(encrypt)} could not decrypt a ${profile.ciphertextFormat} ciphertext: ${why(e)}`);
      }
    }
    const sm3 = profile.mechanisms.sm3;
    if (sm3 !== undefined && !mechanisms.has(sm3))
      problems.push(`sm3 ${hex(sm3)} is not in the token's mechanism list`);
    else if (sm3 !== undefined) {
      try {
        lib.C_DigestInit(session, { mechanism: sm3 });
        if (lib.C_Digest(session, Buffer.from('abc'), Buffer.alloc(32)).toString('hex') !== SM3_ABC) {
          problems.push(`sm3 ${hex(sm3)} is not SM3 (wrong digest of "abc")`);
        }
      } catch (e) {
        problems.push(`sm3 ${hex(sm3)} failed: ${why(e)}`);
      }
    }
    return {
      signatureAlgorithms: signs ? [signRow.id] : [],
      decryptionAlgorithms: decrypts ? [cryptRow.name] : [],
      // A certificate request proves possession with a signature: generation alone is not enough.
      keySpecs: signs ? [keyRow.spec] : [],
      problems,
    };
  } finally {
    try {
      lib.C_CloseSession(session);
    } catch {
      // Closing a probe session cannot fail in a way that matters.
    }
  }
}
