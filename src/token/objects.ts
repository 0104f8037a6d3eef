import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import * as pkcs11 from 'pkcs11js';
import { setTimeout as delay } from 'node:timers/promises';
import { integerDer } from '../crypto/der';
import { ecParamsFor, ecSpki, rsaSpki } from '../crypto/keys';
import type { KeySpecRow, Sm2Profile } from '../crypto/algorithms';
import { keyGenerationMechanism } from '../crypto/sm2Plan';
import { readBool } from './attributes';
import { classify } from './ckr';
import { usageBeyond, withoutUsageRestrictions, type KeyUsage, type TokenUsage } from './keyTemplates';
import { TokenCapabilityFault } from './faults';
import { METADATA_APPLICATION, serializeMetadata, type CertificateMetadata } from './metadata';
import type { RemoteLib } from './remoteLib';
import type { TokenManager } from './tokenManager';

export type { KeyUsage } from './keyTemplates';

/** A key pair made in the token: its public key, and what the token itself lets the private key do. */
export interface GeneratedKeyPair {
  readonly spki: Buffer;
  /** CKA_SIGN / CKA_DECRYPT of the private key as the token reports them after generation. */
  readonly tokenUsage: TokenUsage;
  /**
   * Usages the token allows although they were not asked for (its templates cannot restrict them): the API still
   * refuses them (the identity records what was granted), and operators are told (provision, `slots`).
   */
  readonly beyondGrant: ReadonlyArray<'sign' | 'decrypt'>;
}

/**
 * Generates a key pair INSIDE the token: sensitive, never extractable, with exactly the usages asked for.
 * SoftHSM2's defaults would add decrypt/unwrap/derive to EC keys (facts §3), so every usage is set explicitly.
 * A token that refuses the usage restriction (tpm2-pkcs11: its keys always sign and decrypt) gets the template
 * again without the restricting attributes, unless the token's `keyUsageRestriction` is `require`; sensitivity and
 * non-extractability are never relaxed, and are read back: a key the token made extractable or not sensitive is
 * destroyed and refused. SM2 keys use the vendor key type and mechanism of the token's HSM profile; they decrypt
 * (SM2PKE) when the profile has an encryption mechanism.
 */
export async function generateKeyPair(
  token: TokenManager,
  spec: KeySpecRow,
  label: string,
  ckaId: Buffer,
  usage: KeyUsage,
): Promise<GeneratedKeyPair> {
  const profile = spec.profileOn(token.sm2Profile);
  const mechanism = keyGenerationMechanism(spec, profile);
  if (mechanism === undefined)
    throw new TokenCapabilityFault(`KeySpec ${spec.spec} needs an HSM profile on this token.`);
  const decrypt = usage !== 'sign' && (spec.keyType === 'RSA' || profile?.mechanisms.encrypt !== undefined);
  const sign = usage !== 'decrypt';
  const common = [
    { type: pkcs11.CKA_TOKEN, value: true },
    { type: pkcs11.CKA_LABEL, value: label },
    { type: pkcs11.CKA_ID, value: ckaId },
    ...(profile ? [{ type: pkcs11.CKA_KEY_TYPE, value: profile.keyType }] : []),
  ];
  const pub: pkcs11.Template = [
    ...common,
    { type: pkcs11.CKA_PRIVATE, value: false },
    { type: pkcs11.CKA_VERIFY, value: sign },
    { type: pkcs11.CKA_ENCRYPT, value: decrypt },
    { type: pkcs11.CKA_WRAP, value: false },
  ];
  if (spec.keyType === 'RSA') {
    pub.push({ type: pkcs11.CKA_MODULUS_BITS, value: spec.modulusBits ?? 2048 });
    pub.push({ type: pkcs11.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) });
  } else {
    if (!profile || profile.keyGenEcParams) {
      pub.push({ type: pkcs11.CKA_EC_PARAMS, value: ecParamsFor(spec.curve ?? 'P-256') });
    }
    pub.push({ type: pkcs11.CKA_DERIVE, value: false });
  }
  const priv: pkcs11.Template = [
    ...common,
    { type: pkcs11.CKA_PRIVATE, value: true },
    { type: pkcs11.CKA_SENSITIVE, value: true },
    { type: pkcs11.CKA_EXTRACTABLE, value: false },
    { type: pkcs11.CKA_SIGN, value: sign },
    { type: pkcs11.CKA_DECRYPT, value: decrypt },
    { type: pkcs11.CKA_UNWRAP, value: false },
    { type: pkcs11.CKA_DERIVE, value: false },
  ];
  return token.withSession(async (session, lib) => {
    let keys: { publicKey: pkcs11.Handle; privateKey: pkcs11.Handle };
    try {
      keys = await lib.C_GenerateKeyPair(session, { mechanism }, pub, priv);
    } catch (e) {
      // Only a refusal of the template is worth a second try; a lost session, login or device is not.
      if (token.config.keyUsageRestriction === 'require' || !['input', 'internal'].includes(classify(e))) throw e;
      try {
        keys = await lib.C_GenerateKeyPair(
          session,
          { mechanism },
          withoutUsageRestrictions(pub),
          withoutUsageRestrictions(priv),
        );
      } catch {
        throw e;
      }
    }
    try {
      return await describeNewKeyPair(lib, session, keys, spec, usage, label, profile);
    } catch (e) {
      // Not left behind half-described: the caller never learns of this pair, so nothing would ever delete it.
      await lib.C_DestroyObject(session, keys.privateKey).catch(() => undefined);
      await lib.C_DestroyObject(session, keys.publicKey).catch(() => undefined);
      throw e;
    }
  });
}

/** What generateKeyPair learns of a pair it has just made: the token's usage flags and the public key. */
async function describeNewKeyPair(
  lib: RemoteLib,
  session: pkcs11.Handle,
  keys: { publicKey: pkcs11.Handle; privateKey: pkcs11.Handle },
  spec: KeySpecRow,
  usage: KeyUsage,
  label: string,
  profile: Sm2Profile | undefined,
): Promise<GeneratedKeyPair> {
  const readPolicy = (): Promise<Map<number, Buffer>> =>
    readNew(lib, session, keys.privateKey, [
      pkcs11.CKA_SENSITIVE,
      pkcs11.CKA_EXTRACTABLE,
      pkcs11.CKA_SIGN,
      pkcs11.CKA_DECRYPT,
    ]);
  const insecure = (p: Map<number, Buffer>): boolean =>
    !readBool(p.get(pkcs11.CKA_SENSITIVE)) || readBool(p.get(pkcs11.CKA_EXTRACTABLE));
  let policy = await readPolicy();
  // Read again before concluding: SoftHSM2 beside another writing process once read a new key as not sensitive for
  // a moment (issue 12). Only a key that reads secure is kept; one that keeps reading insecure is destroyed.
  for (let again = 1; insecure(policy) && again <= 2; again++) {
    await delay(20 * again, undefined, { ref: false });
    policy = await readPolicy();
  }
  if (insecure(policy)) {
    throw new Error(`the token made key ${label} extractable or not sensitive although asked not to: destroyed`);
  }
  const tokenUsage = {
    sign: readBool(policy.get(pkcs11.CKA_SIGN)),
    decrypt: readBool(policy.get(pkcs11.CKA_DECRYPT)),
  };
  const made = { tokenUsage, beyondGrant: usageBeyond(usage, tokenUsage) };
  if (spec.keyType === 'RSA') {
    const a = await readNew(lib, session, keys.publicKey, [pkcs11.CKA_MODULUS, pkcs11.CKA_PUBLIC_EXPONENT]);
    return {
      ...made,
      spki: rsaSpki(a.get(pkcs11.CKA_MODULUS) ?? Buffer.alloc(0), a.get(pkcs11.CKA_PUBLIC_EXPONENT) ?? Buffer.alloc(0)),
    };
  }
  if (profile) {
    // The vendor key type implies sm2p256v1; not every vendor stores CKA_EC_PARAMS on it.
    const point = (await readNew(lib, session, keys.publicKey, [pkcs11.CKA_EC_POINT])).get(pkcs11.CKA_EC_POINT);
    return { ...made, spki: ecSpki(ecParamsFor('SM2'), point ?? Buffer.alloc(0)) };
  }
  const a = await readNew(lib, session, keys.publicKey, [pkcs11.CKA_EC_PARAMS, pkcs11.CKA_EC_POINT]);
  return {
    ...made,
    spki: ecSpki(a.get(pkcs11.CKA_EC_PARAMS) ?? Buffer.alloc(0), a.get(pkcs11.CKA_EC_POINT) ?? Buffer.alloc(0)),
  };
}

/**
 * Reads attributes of an object this process has just created. A stale handle is read again: SoftHSM2 2.6.1
 * reloading its store under another process's write answered CKR_OBJECT_HANDLE_INVALID for a moment (facts).
 */
async function readNew(
  lib: RemoteLib,
  session: pkcs11.Handle,
  handle: pkcs11.Handle,
  types: number[],
): Promise<Map<number, Buffer>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await lib.getAttributes(session, handle, types);
    } catch (e) {
      if (classify(e) !== 'stale' || attempt >= 3) throw e;
      await delay(20 * attempt, undefined, { ref: false });
    }
  }
}

/**
 * Stores an X.509 certificate object linked to its key by CKA_ID. The template is complete before the call:
 * a failed C_CreateObject leaves an empty certificate object behind in SoftHSM2 2.6.1 (facts §3).
 */
export async function storeCertificate(token: TokenManager, label: string, ckaId: Buffer, der: Buffer): Promise<void> {
  const cert = AsnConvert.parse(der, Certificate);
  const subject = Buffer.from(AsnConvert.serialize(cert.tbsCertificate.subject));
  const issuer = Buffer.from(AsnConvert.serialize(cert.tbsCertificate.issuer));
  const serial = integerDer(cert.tbsCertificate.serialNumber);
  await token.admin(async (session, lib) => {
    await lib.C_CreateObject(session, [
      { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_CERTIFICATE },
      { type: pkcs11.CKA_CERTIFICATE_TYPE, value: pkcs11.CKC_X_509 },
      { type: pkcs11.CKA_TOKEN, value: true },
      { type: pkcs11.CKA_PRIVATE, value: false },
      { type: pkcs11.CKA_LABEL, value: label },
      { type: pkcs11.CKA_ID, value: ckaId },
      { type: pkcs11.CKA_SUBJECT, value: subject },
      { type: pkcs11.CKA_ISSUER, value: issuer },
      { type: pkcs11.CKA_SERIAL_NUMBER, value: serial },
      { type: pkcs11.CKA_VALUE, value: der },
    ]);
  });
}

/**
 * Writes the lifecycle metadata of an identifier: one record, replacing the one it had, on the token or in the
 * token's record file (`metadataStore`, src/token/records/).
 */
export async function storeMetadata(token: TokenManager, label: string, metadata: CertificateMetadata): Promise<void> {
  await token.records.put(METADATA_APPLICATION, label, serializeMetadata(metadata));
}

/** Replaces the record (application, label) with one holding `value` (KMS key records; see storeMetadata). */
export async function storeDataObject(
  token: TokenManager,
  application: string,
  label: string,
  value: Buffer,
): Promise<void> {
  await token.records.put(application, label, value);
}

/** Removes the records (application, label); returns how many there were. */
export async function destroyDataObjects(token: TokenManager, application: string, label: string): Promise<number> {
  return token.records.remove(application, label);
}

/**
 * Destroys the key pair labelled `label` (private key first: the key is unusable even if a later step fails);
 * returns how many objects were destroyed.
 */
export async function destroyKeyPair(token: TokenManager, label: string): Promise<number> {
  return token.admin(async (session, lib) => {
    let n = 0;
    for (const cls of [pkcs11.CKO_PRIVATE_KEY, pkcs11.CKO_PUBLIC_KEY]) {
      const handles = await lib.findObjects(session, [
        { type: pkcs11.CKA_CLASS, value: cls },
        { type: pkcs11.CKA_LABEL, value: label },
      ]);
      for (const h of handles) await lib.C_DestroyObject(session, h);
      n += handles.length;
    }
    return n;
  });
}

/** Reads back the security attributes of an identity's private key (for tests and the CLI). */
export function privateKeyAttributes(
  token: TokenManager,
  ckaId: Buffer,
): Promise<
  { sensitive: boolean; extractable: boolean; alwaysSensitive: boolean; neverExtractable: boolean } | undefined
> {
  return token.admin(async (session, lib) => {
    const h = (
      await lib.findObjects(session, [
        { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_PRIVATE_KEY },
        { type: pkcs11.CKA_ID, value: ckaId },
      ])
    )[0];
    if (!h) return undefined;
    const a = await lib.getAttributes(session, h, [
      pkcs11.CKA_SENSITIVE,
      pkcs11.CKA_EXTRACTABLE,
      pkcs11.CKA_ALWAYS_SENSITIVE,
      pkcs11.CKA_NEVER_EXTRACTABLE,
    ]);
    const b = (t: number): boolean => (a.get(t)?.[0] ?? 0) !== 0;
    return {
      sensitive: b(pkcs11.CKA_SENSITIVE),
      extractable: b(pkcs11.CKA_EXTRACTABLE),
      alwaysSensitive: b(pkcs11.CKA_ALWAYS_SENSITIVE),
      neverExtractable: b(pkcs11.CKA_NEVER_EXTRACTABLE),
    };
  });
}
