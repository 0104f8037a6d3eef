import * as pkcs11 from 'pkcs11js';
import { capabilitiesOf, type ProbeResult } from '../../../src/token/capabilities';

describe('key specs a token offers (issue 19)', () => {
  const mechanisms = [pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, pkcs11.CKM_RSA_PKCS, pkcs11.CKM_EC_KEY_PAIR_GEN];

  it('leaves out RSA_4096 when the generation mechanism stops at 3072 bits (tpm2-pkcs11)', () => {
    const sizes = new Map([
      [pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, { min: 1024, max: 3072 }],
      [pkcs11.CKM_EC_KEY_PAIR_GEN, { min: 192, max: 638 }],
    ]);
    const specs = capabilitiesOf(mechanisms, undefined, sizes).keySpecs;
    expect(specs).toEqual(expect.arrayContaining(['RSA_2048', 'RSA_3072', 'EC_P256', 'EC_P384']));
    expect(specs).not.toContain('RSA_4096');
  });

  it('offers no EC spec without CKM_EC_KEY_PAIR_GEN (opencryptoki 3.8 soft token), and any size when unknown', () => {
    const specs = capabilitiesOf([pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN], undefined, new Map()).keySpecs;
    expect(specs).toEqual(['RSA_2048', 'RSA_3072', 'RSA_4096']);
  });

  it('offers an EC spec only for the curves the curve probe generated, once it ran (no secp256k1 on a TPM or NSS)', () => {
    const probe: ProbeResult = { decryption: [], sm2: undefined, ecKeySpecs: ['EC_P256', 'EC_P384'] };
    const specs = capabilitiesOf(mechanisms, probe).keySpecs;
    expect(specs).toEqual(['RSA_2048', 'RSA_3072', 'RSA_4096', 'EC_P256', 'EC_P384']);
    expect(capabilitiesOf(mechanisms, undefined).keySpecs).toContain('EC_P256K');
  });
});
