import { parse } from 'yaml';
import { accessKeyConfigSnippet, ALLOW_ALL } from '../../../src/cli/accessKeys';
import { parseGrant } from '../../../src/cli/accessKeysCommand';
import { validateConfig } from '../../../src/config/load';

const token = { warehouseId: 1, name: 'demo', tokenLabel: 'demo', pin: { env: 'PIN' } };

/** The snippet pasted into a config with one token, validated by the one schema. */
function load(snippet: string) {
  const { auth } = parse(snippet) as { auth: unknown };
  return validateConfig({ tokens: [token], auth }, {}).auth.accessKeys[0];
}

describe('access-keys create: the printed auth.accessKeys entry', () => {
  test('loads as a config and grants exactly what was asked, every permission named', () => {
    const snippet = accessKeyConfigSnippet('LTAI5tABCDEFGHIJKLMNOPQR', {
      actions: ['kms:CertificatePrivateKeySign', 'yundun-cert:Sign'],
      certificates: ['c1'],
      warehouses: [2],
      maxCertificates: 3,
    });
    expect(load(snippet)).toMatchObject({
      id: 'LTAI5tABCDEFGHIJKLMNOPQR',
      secret: { env: 'P11BRIDGE_SECRET_MNOPQR' },
      actions: ['kms:CertificatePrivateKeySign', 'yundun-cert:Sign'],
      certificates: ['c1'],
      warehouses: [2],
      maxCertificates: 3,
    });
    for (const field of ['actions', 'certificates', 'warehouses', 'maxCertificates'])
      expect([field, snippet.includes(`# ${field}: `)]).toEqual([field, true]);
    expect(snippet).not.toContain('would bound');
  });

  test('without a limit, says how maxCertificates would bound creations, and writes "*" explicitly', () => {
    const snippet = accessKeyConfigSnippet('LTAI5tABCDEFGHIJKLMNOPQR', ALLOW_ALL);
    expect(load(snippet)).toMatchObject({ actions: ['*'], certificates: ['*'], warehouses: ['*'] });
    expect(load(snippet)?.maxCertificates).toBeUndefined();
    expect(snippet).toMatch(/# maxCertificates: N would bound/);
    expect(snippet).toMatch(/warehouses: \[ "\*" \]/);
  });

  test('the command-line grant: comma lists, "*" and numbers for warehouses; bad values are named', () => {
    expect(parseGrant({})).toEqual(ALLOW_ALL);
    expect(parseGrant({ actions: 'kms:*, yundun-cert:Sign', warehouses: '1,2', 'max-certificates': '0' })).toEqual({
      actions: ['kms:*', 'yundun-cert:Sign'],
      certificates: ['*'],
      warehouses: [1, 2],
      maxCertificates: 0,
    });
    expect(() => parseGrant({ warehouses: '0' })).toThrow('--warehouses: expected warehouse ids or "*", got "0"');
    expect(() => parseGrant({ warehouses: 'two' })).toThrow('--warehouses');
    expect(() => parseGrant({ 'max-certificates': '-1' })).toThrow('--max-certificates');
    expect(() => parseGrant({ certificates: ' , ' })).toThrow('--certificates: expected a comma-separated list');
  });
});
