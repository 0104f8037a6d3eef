import { validateConfig } from '../../../src/config/load';

const NSS = '/usr/lib/x86_64-linux-gnu/libsoftokn3.so';
const token = (warehouseId: number, extra: Record<string, unknown>) => ({
  warehouseId,
  name: `t${warehouseId}`,
  tokenLabel: 'NSS Certificate DB',
  pin: { env: 'PIN' },
  ...extra,
});
const auth = { accessKeys: [{ id: 'ak', secret: { env: 'S' } }] };

describe('tokens[].moduleParameters and keyUsageRestriction (issue 19)', () => {
  it('keeps the C_Initialize library parameters of a token and defaults keyUsageRestriction to prefer', () => {
    const params = "configdir='sql:/var/lib/nss' certPrefix='' keyPrefix='' secmod='secmod.db' flags=";
    const c = validateConfig({ tokens: [token(1, { module: NSS, moduleParameters: params })], auth }, {});
    expect(c.tokens[0]).toMatchObject({ moduleParameters: params, keyUsageRestriction: 'prefer' });
  });

  it('refuses two tokens of one module with different parameters (one library instance per process)', () => {
    expect(() =>
      validateConfig(
        {
          tokens: [
            token(1, { module: NSS, moduleParameters: "configdir='sql:/a'" }),
            token(2, { module: NSS, moduleParameters: "configdir='sql:/b'" }),
          ],
          auth,
        },
        {},
      ),
    ).toThrow(/tokens.1.moduleParameters: tokens of module .*libsoftokn3.so must have the same moduleParameters/);
  });

  it('refuses an unknown keyUsageRestriction value', () => {
    expect(() => validateConfig({ tokens: [token(1, { keyUsageRestriction: 'relax' })], auth }, {})).toThrow(
      /tokens.0.keyUsageRestriction/,
    );
  });
});
