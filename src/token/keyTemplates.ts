import * as pkcs11 from 'pkcs11js';

/**
 * What a new key pair is for: signing only (demo keys, KMS `SIGN/VERIFY`), signing and decryption (KMS
 * CreateCertificate), or decryption only (KMS `ENCRYPT/DECRYPT`).
 */
export type KeyUsage = 'sign' | 'sign+decrypt' | 'decrypt';

/** The private-key operations the token itself allows a key (CKA_SIGN, CKA_DECRYPT as read back). */
export interface TokenUsage {
  readonly sign: boolean;
  readonly decrypt: boolean;
}

/** The usage attributes a restriction sets to false; a token that refuses them gets a template without them. */
const RESTRICTING = new Set<number>([
  pkcs11.CKA_ENCRYPT,
  pkcs11.CKA_DECRYPT,
  pkcs11.CKA_WRAP,
  pkcs11.CKA_UNWRAP,
  pkcs11.CKA_DERIVE,
  pkcs11.CKA_SIGN,
  pkcs11.CKA_VERIFY,
]);

/**
 * The template without its usage restrictions: every usage attribute set to false is left out, so that the token
 * applies its own defaults. tpm2-pkcs11 1.9 refuses any RSA or EC template that sets CKA_ENCRYPT=false or
 * CKA_DECRYPT=false (CKR_GENERAL_ERROR, "User specified and TPM specified attr mismatch"): its keys always allow
 * both. CKA_SENSITIVE and CKA_EXTRACTABLE are not usage attributes: they are never left out.
 */
export function withoutUsageRestrictions(template: pkcs11.Template): pkcs11.Template {
  return template.filter((a) => !(RESTRICTING.has(a.type) && a.value === false));
}

/**
 * The usages the token allows beyond those granted, by API name (`decrypt`, `sign`): the weaker token-side
 * restriction of a key whose token could not be told to restrict it. Empty when the token enforces the grant.
 */
export function usageBeyond(granted: KeyUsage, token: TokenUsage): Array<'sign' | 'decrypt'> {
  const out: Array<'sign' | 'decrypt'> = [];
  if (token.sign && granted === 'decrypt') out.push('sign');
  if (token.decrypt && granted === 'sign') out.push('decrypt');
  return out;
}
