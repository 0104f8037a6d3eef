import { planDemoKeySet } from '../../../src/identities/demoProvisioning';

describe('the demo key set follows what the token can generate (issue 19)', () => {
  it('makes a P-256 CA and both signing keys on a token that generates RSA and EC', () => {
    expect(planDemoKeySet(() => true)).toEqual({ ca: 'EC_P256', leaves: ['RSA_2048', 'EC_P256'], skipped: [] });
  });

  it('makes an RSA CA and no EC key on a token without EC, and says why', () => {
    const plan = planDemoKeySet((row) => row.keyType === 'RSA');
    expect(plan.ca).toBe('RSA_2048');
    expect(plan.leaves).toEqual(['RSA_2048']);
    expect(plan.skipped).toEqual([
      { keySpec: 'EC_P256', reason: 'the token offers no P-256 key pair generation (CKM_EC_KEY_PAIR_GEN)' },
    ]);
  });

  it('refuses a token that can generate no CA key, naming what it lacks', () => {
    expect(() => planDemoKeySet(() => false)).toThrow(/can generate none of EC_P256, RSA_2048, RSA_3072/);
  });
});
