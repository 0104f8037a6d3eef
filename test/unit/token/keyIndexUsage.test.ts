import { generateKeyPairSync } from 'node:crypto';
import * as pkcs11 from 'pkcs11js';
import { buildIndex } from '../../../src/token/keyIndex';
import type { RawObject } from '../../../src/token/objectReader';

/** CK_ULONG / CK_BBOOL as pkcs11js returns them on x86_64. */
const ulong = (n: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};
const bool = (v: boolean): Buffer => Buffer.from([v ? 1 : 0]);

/** An RSA key pair whose token attributes allow signing and decryption (as tpm2-pkcs11 makes every key). */
function rsaIdentity(label: string, metadata: Record<string, unknown>): { priv: RawObject; meta: RawObject } {
  const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
  const modulus = Buffer.from(jwk.n as string, 'base64url');
  const priv: RawObject = {
    handle: ulong(1),
    attrs: {
      [pkcs11.CKA_LABEL]: Buffer.from(label),
      [pkcs11.CKA_ID]: Buffer.from(label),
      [pkcs11.CKA_KEY_TYPE]: ulong(pkcs11.CKK_RSA),
      [pkcs11.CKA_SENSITIVE]: bool(true),
      [pkcs11.CKA_EXTRACTABLE]: bool(false),
      [pkcs11.CKA_SIGN]: bool(true),
      [pkcs11.CKA_DECRYPT]: bool(true),
      [pkcs11.CKA_MODULUS]: modulus,
      [pkcs11.CKA_PUBLIC_EXPONENT]: Buffer.from([1, 0, 1]),
    },
  };
  const meta: RawObject = {
    handle: ulong(2),
    attrs: { [pkcs11.CKA_LABEL]: Buffer.from(label), [pkcs11.CKA_VALUE]: Buffer.from(JSON.stringify(metadata)) },
  };
  return { priv, meta };
}

function index(label: string, metadata: Record<string, unknown>) {
  const { priv, meta } = rsaIdentity(label, metadata);
  const raw = { certificates: [], metadata: [meta], kmsKeys: [], publicKeys: [], privateKeys: [priv], unreadable: [] };
  const entry = buildIndex(raw, { refuseInsecure: true }).entries.get(label);
  if (!entry) throw new Error('not indexed');
  return entry;
}

describe('the usage an identity was granted, on a token whose keys allow more (issue 19)', () => {
  it('refuses decryption to a key granted signing only although the token allows it, and reports that', () => {
    const e = index('signer', { status: 'PENDING', usage: 'sign' });
    expect(e).toMatchObject({ canSign: true, canDecrypt: false, beyondGrant: ['decrypt'] });
  });

  it('serves both usages of a key granted sign+decrypt, with nothing beyond the grant', () => {
    const e = index('both', { status: 'PENDING', usage: 'sign+decrypt' });
    expect(e).toMatchObject({ canSign: true, canDecrypt: true, beyondGrant: [] });
  });

  it('keeps the token attributes alone for an identity made before grants were recorded', () => {
    const e = index('legacy', { status: 'PENDING' });
    expect(e).toMatchObject({ canSign: true, canDecrypt: true, beyondGrant: [] });
  });
});
