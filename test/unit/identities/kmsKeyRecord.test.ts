import { checkAliasName } from '../../../src/identities/keys/aliases';
import { checkSpecAndUsage } from '../../../src/identities/keys/lifecycle';
import {
  parseKeyRecord,
  serializeKeyRecord,
  versionLabel,
  type KmsKeyRecord,
} from '../../../src/identities/keys/record';
import { ApiError } from '../../../src/errors/apiError';
import { isKeyPairLabel } from '../../../src/token/keyIndex';

const record: KmsKeyRecord = {
  keyId: 'k1',
  keySpec: 'EC_P256',
  keyUsage: 'SIGN/VERIFY',
  state: 'Enabled',
  description: '',
  creationDate: '2026-01-01T00:00:00Z',
  arn: 'acs:kms:cn-hangzhou:1:key/k1',
  primaryKeyVersion: 'v1',
  versions: [{ versionId: 'v1', creationDate: '2026-01-01T00:00:00Z' }],
  aliases: [],
  tags: {},
};

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof ApiError ? e.code : 'not an ApiError';
  }
  return undefined;
}

describe('KMS key records on the token', () => {
  it('round-trips a record through its CKA_VALUE bytes', () => {
    expect(parseKeyRecord(serializeKeyRecord(record))).toEqual(record);
  });

  it('refuses damaged JSON, an unknown state and a primary version that is not among the versions', () => {
    expect(parseKeyRecord(Buffer.from('{not json'))).toBeUndefined();
    expect(parseKeyRecord(serializeKeyRecord({ ...record, state: 'Gone' as never }))).toBeUndefined();
    expect(parseKeyRecord(serializeKeyRecord({ ...record, primaryKeyVersion: 'v2' }))).toBeUndefined();
    expect(parseKeyRecord(serializeKeyRecord({ ...record, versions: [] }))).toBeUndefined();
  });

  it('labels version key pairs <keyId>/<versionId>, which the key index keeps out of certificate identities', () => {
    expect(versionLabel('k1', 'v1')).toBe('k1/v1');
    expect(isKeyPairLabel(versionLabel('k1', 'v1'))).toBe(true);
    for (const label of ['cert-1', '/v1', 'k1/', '']) expect([label, isKeyPairLabel(label)]).toEqual([label, false]);
  });
});

describe('CreateKey spec and usage checks', () => {
  it('accepts the asymmetric specs and defaults KeyUsage to SIGN/VERIFY', () => {
    expect(checkSpecAndUsage('EC_P256K', undefined)).toEqual(['EC_P256K', 'SIGN/VERIFY']);
    expect(checkSpecAndUsage('RSA_3072', 'ENCRYPT/DECRYPT')).toEqual(['RSA_3072', 'ENCRYPT/DECRYPT']);
  });

  it('refuses symmetric and unknown specs and EC encryption as unsupported, a bad usage as invalid', () => {
    expect(codeOf(() => checkSpecAndUsage('Aliyun_AES_256', undefined))).toBe('UnsupportedOperation');
    expect(codeOf(() => checkSpecAndUsage('RSA_4096', undefined))).toBe('UnsupportedOperation');
    expect(codeOf(() => checkSpecAndUsage('EC_P256', 'ENCRYPT/DECRYPT'))).toBe('UnsupportedOperation');
    expect(codeOf(() => checkSpecAndUsage('EC_P256', 'SIGN'))).toBe('InvalidParameter');
  });
});

describe('alias names', () => {
  it('accepts alias/ names of allowed characters and refuses the reserved alias/acs prefix', () => {
    expect(codeOf(() => checkAliasName('alias/app-1:prod/x_y'))).toBeUndefined();
    for (const bad of ['app', 'alias/', 'alias/has space', 'alias/acs/kms', `alias/${'a'.repeat(250)}`]) {
      expect([bad, codeOf(() => checkAliasName(bad))]).toEqual([bad, 'InvalidParameter']);
    }
  });
});
