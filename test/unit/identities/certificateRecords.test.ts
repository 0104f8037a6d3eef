import { ApiError } from '../../../src/errors/apiError';
import {
  checkCertificateId,
  checkKmsSubject,
  checkSubjectAlternativeNames,
  parseCertificates,
} from '../../../src/identities/certificates/inputs';
import {
  certificateArn,
  kmsDate,
  pendingRecord,
  statusAfterUpload,
  withStatus,
} from '../../../src/identities/certificates/records';

/** The ApiError a check throws (its code and message), or undefined when it accepts the value. */
const refusal = (fn: () => unknown): { code: string; message: string } | undefined => {
  try {
    fn();
    return undefined;
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    return { code: e.code, message: e.message };
  }
};

describe('the certificate lifecycle record', () => {
  const now = new Date('2026-01-02T03:04:05.678Z');

  it('starts PENDING with the CSR, names, tags and ARN, created and updated now (KMS date, no milliseconds)', () => {
    const tags = { team: 'a' };
    const record = pendingRecord({
      keySpec: 'EC_P256',
      csrPem: 'CSR',
      subjectAlternativeNames: ['a.example'],
      tags,
      arn: 'acs:kms:cn-hangzhou:1:certificate/x',
      now,
    });
    expect(record).toEqual({
      status: 'PENDING',
      keySpec: 'EC_P256',
      // CreateCertificate's key pair may sign and decrypt: the grant is recorded (decision 0027).
      usage: 'sign+decrypt',
      createdAt: '2026-01-02T03:04:05Z',
      updatedAt: '2026-01-02T03:04:05Z',
      csr: 'CSR',
      subjectAlternativeNames: ['a.example'],
      tags: { team: 'a' },
      arn: 'acs:kms:cn-hangzhou:1:certificate/x',
    });
    // The record owns its copy: a later change to the caller's tags does not reach the token.
    tags.team = 'b';
    expect(record.tags).toEqual({ team: 'a' });
  });

  it('becomes ACTIVE on its first upload and keeps a disabled or revoked status on a re-upload', () => {
    expect(statusAfterUpload('PENDING')).toBe('ACTIVE');
    expect(statusAfterUpload('ACTIVE')).toBe('ACTIVE');
    expect(statusAfterUpload('INACTIVE')).toBe('INACTIVE');
    expect(statusAfterUpload('REVOKED')).toBe('REVOKED');
  });

  it('changes status with a new updatedAt and keeps everything else', () => {
    const before = { status: 'ACTIVE' as const, createdAt: 'c', updatedAt: 'u', tags: { t: '1' }, arn: 'arn' };
    expect(withStatus(before, 'REVOKED', now)).toEqual({ ...before, status: 'REVOKED', updatedAt: kmsDate(now) });
    expect(before.status).toBe('ACTIVE');
  });

  it('builds the KMS ARN of a certificate from region, account and identifier', () => {
    expect(certificateArn({ regionId: 'cn-shanghai', accountId: '123' }, 'abc')).toBe(
      'acs:kms:cn-shanghai:123:certificate/abc',
    );
  });
});

describe('the KMS input checks of the certificate lifecycle', () => {
  it('accepts a Subject with CN, C, O and OU and names the missing ones otherwise', () => {
    expect(refusal(() => checkKmsSubject('CN=a,C=CN,O=Org,OU=Unit'))).toBeUndefined();
    expect(refusal(() => checkKmsSubject('CN=a,C=CN'))).toEqual({
      code: 'InvalidParameter',
      message:
        'The specified parameter Subject is not valid: O, OU missing: CN, C, O and OU are required (ST and L optional).',
    });
    expect(refusal(() => checkKmsSubject('not a DN'))?.message).toMatch(
      /^The specified parameter Subject is not valid/,
    );
  });

  it('accepts up to 10 DNS names and refuses the 11th or a name that is not DNS', () => {
    const names = Array.from({ length: 10 }, (_, i) => `n${i}.example.com`);
    expect(refusal(() => checkSubjectAlternativeNames(names))).toBeUndefined();
    expect(refusal(() => checkSubjectAlternativeNames([...names, 'x.example.com']))?.message).toBe(
      'The specified parameter SubjectAlternativeNames is not valid: at most 10 names; got 11.',
    );
    expect(refusal(() => checkSubjectAlternativeNames(['not a name']))?.code).toBe('InvalidParameter');
  });

  it('refuses an operator-chosen identifier that cannot be a CKA_LABEL and an ARN', () => {
    expect(refusal(() => checkCertificateId('web-1.example_2'))).toBeUndefined();
    expect(refusal(() => checkCertificateId('../etc'))?.message).toBe(
      'The specified parameter CertificateId is not valid: use letters, digits, ".", "_" and "-".',
    );
  });

  it('names the parameter and the block of a PEM value that is not a certificate', () => {
    expect(refusal(() => parseCertificates('CertificateChain', 'nothing here'))?.message).toMatch(
      /^The specified parameter CertificateChain is not valid/,
    );
    const csr = '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n';
    expect(refusal(() => parseCertificates('Certificate', csr))?.message).toBe(
      'The specified parameter Certificate is not valid: block 1 is CERTIFICATE REQUEST, not CERTIFICATE.',
    );
  });
});
