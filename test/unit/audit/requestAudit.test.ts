import { createHash } from 'node:crypto';
import type { AuditChain, EntryFields } from '../../../src/audit/auditChain';
import type { EntryType } from '../../../src/audit/entry';
import { requestAuditor } from '../../../src/audit/requestAudit';
import type { RequestOutcome } from '../../../src/observability/requestOutcome';

/**
 * Which requests become which entries; the chain is replaced by a recorder (its files are auditChain.test.ts's).
 * Fields handed over as a function (made when the chain formats the entry) are made at once here.
 */
function recorder(): { chain: AuditChain; entries: Array<{ type: EntryType; fields: Record<string, unknown> }> } {
  const entries: Array<{ type: EntryType; fields: Record<string, unknown> }> = [];
  const made = (fields: EntryFields): Record<string, unknown> =>
    (typeof fields === 'function' ? (fields as () => object)() : fields) as Record<string, unknown>;
  const chain = {
    append: (type: EntryType, fields: EntryFields) => void entries.push({ type, fields: made(fields) }),
    appendWritten: (type: EntryType, fields: EntryFields) => {
      entries.push({ type, fields: made(fields) });
      return Promise.resolve();
    },
  } as unknown as AuditChain;
  return { chain, entries };
}

const base: RequestOutcome = {
  requestId: 'R1',
  accessKeyId: 'AK1',
  client: '10.0.0.7',
  product: 'cas',
  action: 'Sign',
  status: 200,
  code: undefined,
  params: { CertIdentifier: 'cert-1', Message: 'hello audit', MessageType: 'RAW', SigningAlgorithm: 'SHA256withRSA' },
  result: { Signature: Buffer.from('sig-bytes').toString('base64') },
};
const hex = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

describe('request auditor', () => {
  let now = 0;
  const options = (required = false, encoding: 'utf8' | 'base64' = 'utf8') => ({
    required,
    rawMessageEncoding: () => encoding,
    refusalsPerSecond: 2,
    refusalBurst: 3,
    now: () => now,
  });

  it('records a signature with the hashes of the bytes signed and returned, never the message', () => {
    const { chain, entries } = recorder();
    expect(requestAuditor(chain, options())(base)).toBeUndefined();
    expect(entries).toEqual([
      {
        type: 'sign',
        fields: {
          requestId: 'R1',
          accessKeyId: 'AK1',
          client: '10.0.0.7',
          product: 'cas',
          action: 'Sign',
          outcome: 'OK',
          identity: 'cert-1',
          version: undefined,
          algorithm: 'SHA256withRSA',
          messageType: 'RAW',
          dataSha256: hex('hello audit'),
          resultSha256: hex(Buffer.from('sig-bytes')),
        },
      },
    ]);
  });

  it('hashes a CAS RAW message as base64 when cas.rawMessageEncoding says so, and a KMS digest as bytes', () => {
    const { chain, entries } = recorder();
    const audit = requestAuditor(chain, options(false, 'base64'));
    void audit({ ...base, params: { ...base.params, Message: Buffer.from('raw bytes').toString('base64') } });
    void audit({
      ...base,
      product: 'kms',
      action: 'AsymmetricSign',
      params: {
        KeyId: 'alias/x',
        KeyVersionId: 'v1',
        Algorithm: 'ECDSA_SHA_256',
        Digest: Buffer.alloc(32, 7).toString('base64'),
      },
      result: { KeyId: 'key-1', KeyVersionId: 'v1', Value: 'AAAA' },
    });
    expect(entries[0]?.fields.dataSha256).toBe(hex(Buffer.from('raw bytes')));
    expect(entries[1]?.fields).toMatchObject({
      identity: 'key-1',
      version: 'v1',
      messageType: 'DIGEST',
      dataSha256: hex(Buffer.alloc(32, 7)),
    });
  });

  it('makes the answer of a required private-key operation wait for its entry; other answers never wait', async () => {
    const { chain } = recorder();
    const audit = requestAuditor(chain, options(true));
    await expect(audit(base)).resolves.toBeUndefined();
    expect(
      void audit({
        ...base,
        product: 'kms',
        action: 'UpdateCertificateStatus',
        params: { CertificateId: 'c', Status: 'INACTIVE' },
      }),
    ).toBeUndefined();
    expect(audit({ ...base, action: 'ListCert' })).toBeUndefined();
  });

  it('records lifecycle changes with their details, refusals of the caller, and not bad input', () => {
    const { chain, entries } = recorder();
    const audit = requestAuditor(chain, options());
    void audit({
      ...base,
      product: 'kms',
      action: 'UpdateCertificateStatus',
      params: { CertificateId: 'c', Status: 'REVOKED' },
      result: {},
    });
    void audit({ ...base, status: 403, code: 'Forbidden.RAM', result: undefined });
    void audit({ ...base, status: 400, code: 'InvalidParameter', result: undefined });
    void audit({
      ...base,
      action: 'ListCert',
      status: 400,
      code: 'SignatureDoesNotMatch',
      params: undefined,
      result: undefined,
    });
    void audit({ ...base, action: 'DescribeWarehouseCert', status: 200, code: undefined });
    expect(entries.map((e) => [e.type, e.fields.outcome])).toEqual([
      ['lifecycle', 'OK'],
      ['refused', 'Forbidden.RAM'],
      ['refused', 'SignatureDoesNotMatch'],
    ]);
    expect(entries[0]?.fields).toMatchObject({ identity: 'c', detail: { Status: 'REVOKED' } });
  });

  it('records a private-key operation that failed in the server (5xx) under its own type', () => {
    const { chain, entries } = recorder();
    void requestAuditor(chain, options())({ ...base, status: 503, code: 'ServiceUnavailable', result: undefined });
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      type: 'sign',
      fields: { outcome: 'ServiceUnavailable', resultSha256: undefined },
    });
  });

  it('bounds refusals by a token bucket and counts the ones left out in the next one admitted', () => {
    const { chain, entries } = recorder();
    const audit = requestAuditor(chain, options());
    now = 1000;
    const refused = { ...base, status: 400, code: 'Throttling.User', result: undefined };
    for (let i = 0; i < 10; i++) void audit(refused);
    expect(entries).toHaveLength(3);
    now += 500; // one token back at 2 per second
    void audit(refused);
    expect(entries).toHaveLength(4);
    expect(entries[3]?.fields.suppressedBefore).toBe(7);
  });
});
