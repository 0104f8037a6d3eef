import { generateKeyPairSync } from 'node:crypto';
import * as pkcs11 from 'pkcs11js';
import { ecParamsFor } from '../../../src/crypto/keys';
import { silentLogger } from '../../../src/observability/logger';
import { KeyDirectory } from '../../../src/token/keyDirectory';
import type { RawObject, RawObjects } from '../../../src/token/objectReader';

/** CK_ULONG / CK_BBOOL as pkcs11js returns them on x86_64. */
const ulong = (n: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};
const bool = (v: boolean): Buffer => Buffer.from([v ? 1 : 0]);
let handles = 0;
const handle = (): Buffer => ulong(++handles);

/** The raw objects of one P-256 key pair without a certificate, and its metadata (as objectReader.ts reads them). */
function identity(label: string, status: string): Pick<RawObjects, 'metadata' | 'publicKeys' | 'privateKeys'> {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' });
  const point = Buffer.concat([
    Buffer.from([4]),
    Buffer.from(jwk.x as string, 'base64url'),
    Buffer.from(jwk.y as string, 'base64url'),
  ]);
  const ckaId = Buffer.from(label);
  const common = { [pkcs11.CKA_LABEL]: Buffer.from(label), [pkcs11.CKA_ID]: ckaId };
  const pub: RawObject = {
    handle: handle(),
    attrs: { ...common, [pkcs11.CKA_KEY_TYPE]: ulong(pkcs11.CKK_EC), [pkcs11.CKA_EC_POINT]: point },
  };
  const priv: RawObject = {
    handle: handle(),
    attrs: {
      ...common,
      [pkcs11.CKA_KEY_TYPE]: ulong(pkcs11.CKK_EC),
      [pkcs11.CKA_SENSITIVE]: bool(true),
      [pkcs11.CKA_EXTRACTABLE]: bool(false),
      [pkcs11.CKA_SIGN]: bool(true),
      [pkcs11.CKA_DECRYPT]: bool(false),
      [pkcs11.CKA_EC_PARAMS]: ecParamsFor('P-256'),
    },
  };
  const meta: RawObject = {
    handle: handle(),
    attrs: { [pkcs11.CKA_LABEL]: Buffer.from(label), [pkcs11.CKA_VALUE]: Buffer.from(JSON.stringify({ status })) },
  };
  return { metadata: [meta], publicKeys: [pub], privateKeys: [priv] };
}

function merge(...parts: Array<Pick<RawObjects, 'metadata' | 'publicKeys' | 'privateKeys'>>): RawObjects {
  return {
    certificates: [],
    metadata: parts.flatMap((p) => p.metadata),
    kmsKeys: [],
    publicKeys: parts.flatMap((p) => p.publicKeys),
    privateKeys: parts.flatMap((p) => p.privateKeys),
    unreadable: [],
  };
}

const opts = () => ({ refuseInsecure: true, insecurePolicy: 'refuse' as const });

describe('key directory', () => {
  it('re-reads only the changed identity and keeps every other entry as it was', async () => {
    const a = identity('a', 'ACTIVE');
    const b = identity('b', 'ACTIVE');
    const reads: Array<string | undefined> = [];
    let token = merge(a, b);
    const dir = new KeyDirectory(
      silentLogger(),
      (label) => {
        reads.push(label);
        const all = token;
        const pick = (l: readonly RawObject[]): RawObject[] =>
          label === undefined ? [...l] : l.filter((o) => o.attrs[pkcs11.CKA_LABEL]?.toString() === label);
        return Promise.resolve({
          certificates: [],
          metadata: pick(all.metadata),
          kmsKeys: [],
          publicKeys: pick(all.publicKeys),
          privateKeys: pick(all.privateKeys),
          unreadable: [],
        });
      },
      opts,
    );
    await dir.refresh();
    const before = dir.get('b');
    expect(dir.get('a')?.metadata.status).toBe('ACTIVE');
    // Another process disables `a` on the token.
    token = merge({ ...a, metadata: identity('a', 'INACTIVE').metadata }, b);
    await dir.refreshIdentity('a');
    expect(reads).toEqual([undefined, 'a']);
    expect(dir.get('a')?.metadata.status).toBe('INACTIVE');
    expect(dir.get('b')).toMatchObject({
      privateKey: before?.privateKey,
      spki: before?.spki,
      metadata: { status: 'ACTIVE' },
    });
  });

  it('drops an identity whose objects are gone when it is re-read', async () => {
    const a = identity('a', 'ACTIVE');
    let token = merge(a);
    const dir = new KeyDirectory(
      silentLogger(),
      (label) =>
        Promise.resolve(
          label === undefined
            ? token
            : { certificates: [], metadata: [], kmsKeys: [], publicKeys: [], privateKeys: [], unreadable: [] },
        ),
      opts,
    );
    await dir.refresh();
    expect(dir.size).toBe(1);
    token = merge();
    await dir.refreshIdentity('a');
    expect(dir.get('a')).toBeUndefined();
  });

  it('refuses an identity with two metadata objects instead of choosing one by order', async () => {
    const a = identity('a', 'ACTIVE');
    const twice = { ...a, metadata: [...a.metadata, ...identity('a', 'ACTIVE').metadata] };
    const dir = new KeyDirectory(silentLogger(), () => Promise.resolve(merge(twice)), opts);
    await dir.refresh();
    expect(dir.get('a')?.problem).toMatch(/2 lifecycle metadata objects/);
  });
});
