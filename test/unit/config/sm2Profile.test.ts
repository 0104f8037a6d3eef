import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { validateConfig } from '../../../src/config/load';

const HSM_DOCS = resolve(__dirname, '../../../docs/hsm');

const withToken = (token: Record<string, unknown>) => ({
  tokens: [{ warehouseId: 1, name: 'hsm', tokenLabel: 'hsm', pin: { env: 'PIN' }, ...token }],
  auth: { accessKeys: [{ id: 'LTAI5tEXAMPLE', secret: { file: '/run/secrets/ak' } }] },
});

const TASS = {
  vendor: 'TASS',
  keyType: 0x80000004,
  mechanisms: { keyPairGen: 0x80008001, sign: 0x80008000 },
};

describe('tokens[].sm2: the SM2 HSM profile', () => {
  it('takes numbers or 0x… strings and fills in the defaults', () => {
    const c = validateConfig(
      withToken({
        sm2: { ...TASS, keyType: '0x80000004', mechanisms: { keyPairGen: '0x80008001', sign: 2147516416 } },
      }),
      {},
    );
    expect(c.tokens[0]?.sm2).toEqual({
      vendor: 'TASS',
      keyType: 0x80000004,
      mechanisms: { keyPairGen: 0x80008001, sign: 0x80008000 },
      signInput: 'e',
      signatureFormat: 'raw',
      ciphertextFormat: 'gmt0009',
      keyGenEcParams: true,
      userId: '1234567812345678',
    });
  });

  it('is optional: a token without it has no SM2', () => {
    expect(validateConfig(withToken({}), {}).tokens[0]?.sm2).toBeUndefined();
  });

  it('names the path of a bad value, an unknown key, and a profile that cannot sign', () => {
    expect(() => validateConfig(withToken({ sm2: { ...TASS, keyType: '80000004' } }), {})).toThrow(
      /tokens\.0\.sm2\.keyType/,
    );
    expect(() =>
      validateConfig(withToken({ sm2: { ...TASS, mechanisms: { keyPairGen: 1, sign: 1, verify: 2 } } }), {}),
    ).toThrow(/tokens\.0\.sm2\.mechanisms: Unrecognized key.*verify/);
    expect(() =>
      validateConfig(withToken({ sm2: { ...TASS, mechanisms: { keyPairGen: 1, encrypt: 2 } } }), {}),
    ).toThrow(/set mechanisms\.sign or mechanisms\.sm3WithSm2/);
    expect(() => validateConfig(withToken({ sm2: { ...TASS, signatureFormat: 'p1363' } }), {})).toThrow(
      /tokens\.0\.sm2\.signatureFormat/,
    );
    expect(() => validateConfig(withToken({ sm2: { ...TASS, userId: 'x'.repeat(8192) } }), {})).toThrow(/8191/);
  });

  const samples = readdirSync(HSM_DOCS).filter((f) => /^sm2-.*\.yaml$/.test(f));

  it('ships commented samples for several vendors under docs/hsm/', () => {
    expect(samples.sort()).toEqual(['sm2-luna.yaml', 'sm2-sansec.yaml', 'sm2-tass.yaml']);
  });

  it.each(samples)('docs/hsm/%s is a valid tokens entry that names its source and its verification status', (file) => {
    const text = readFileSync(join(HSM_DOCS, file), 'utf8');
    expect(text).toMatch(/# Source/);
    expect(text).toMatch(/# Status: NOT (VERIFIED|verified)/);
    const sample = parse(text) as { tokens: unknown[] };
    const config = validateConfig({ ...withToken({}), tokens: sample.tokens }, {});
    // Vendor-defined numbers (CKM_VENDOR_DEFINED = 0x80000000), parsed from the YAML's 0x… literals.
    expect(config.tokens[0]?.sm2?.mechanisms.keyPairGen).toBeGreaterThan(0x80000000);
  });
});
