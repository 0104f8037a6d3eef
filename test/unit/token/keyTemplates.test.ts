import * as pkcs11 from 'pkcs11js';
import { usageBeyond, withoutUsageRestrictions } from '../../../src/token/keyTemplates';

describe('key templates for tokens that refuse a usage restriction (issue 19)', () => {
  const priv: pkcs11.Template = [
    { type: pkcs11.CKA_TOKEN, value: true },
    { type: pkcs11.CKA_PRIVATE, value: true },
    { type: pkcs11.CKA_SENSITIVE, value: true },
    { type: pkcs11.CKA_EXTRACTABLE, value: false },
    { type: pkcs11.CKA_SIGN, value: true },
    { type: pkcs11.CKA_DECRYPT, value: false },
    { type: pkcs11.CKA_UNWRAP, value: false },
    { type: pkcs11.CKA_DERIVE, value: false },
  ];

  it('drops only the usage attributes set to false, never CKA_SENSITIVE or CKA_EXTRACTABLE=false', () => {
    const relaxed = withoutUsageRestrictions(priv).map((a) => a.type);
    expect(relaxed).toEqual([
      pkcs11.CKA_TOKEN,
      pkcs11.CKA_PRIVATE,
      pkcs11.CKA_SENSITIVE,
      pkcs11.CKA_EXTRACTABLE,
      pkcs11.CKA_SIGN,
    ]);
    expect(withoutUsageRestrictions(priv).find((a) => a.type === pkcs11.CKA_EXTRACTABLE)?.value).toBe(false);
  });

  it('names the usages the token allows beyond the grant, and none when it enforces the grant', () => {
    expect(usageBeyond('sign', { sign: true, decrypt: true })).toEqual(['decrypt']);
    expect(usageBeyond('decrypt', { sign: true, decrypt: true })).toEqual(['sign']);
    expect(usageBeyond('sign+decrypt', { sign: true, decrypt: true })).toEqual([]);
    expect(usageBeyond('sign', { sign: true, decrypt: false })).toEqual([]);
  });
});
