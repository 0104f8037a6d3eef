/**
 * TagResource / UntagResource / ListResourceTags on KMS keys (with `@alicloud/kms20160120` 1.2.0's own methods, V1)
 * and on certificates by `CertificateId` (callApi V3, and the 1.2.0 client's generic doRequest), read back through
 * ListResourceTags and DescribeCertificate `Tags`. Refusals assert HTTP status and Code.
 */
import {
  CreateKeyRequest,
  ListResourceTagsRequest,
  TagResourceRequest,
  UntagResourceRequest,
} from '@alicloud/kms20160120';
import type KmsClient from '@alicloud/kms20160120';
import { startTestDaemon } from '../helpers/daemon';
import { as, kmsClient, kmsRpc, teaCaller, type RpcCaller } from '../helpers/clients';
import { sdkError } from '../helpers/sdkErrors';

let d: Awaited<ReturnType<typeof startTestDaemon>>;
let v1: KmsClient;
let v3: RpcCaller;
let certificateId: string;

beforeAll(async () => {
  d = await startTestDaemon({ extraKeys: [{ name: 'certsOnly', certificates: ['no-such-certificate'] }] });
  v1 = kmsClient(d);
  v3 = teaCaller(d);
  certificateId = d.certificates[0]?.id ?? '';
});

afterAll(async () => {
  await d.stop();
});

const tags = (list: Array<[string, string]>): string =>
  JSON.stringify(list.map(([TagKey, TagValue]) => ({ TagKey, TagValue })));

describe('tags on KMS keys (1.2.0 client, V1)', () => {
  it('TagResource sets and replaces tags, UntagResource removes them; ListResourceTags reads them back (V1 and V3)', async () => {
    const created = await v1.createKey(
      new CreateKeyRequest({ keySpec: 'EC_P256', keyUsage: 'SIGN/VERIFY', tags: tags([['team', 'pay']]) }),
    );
    const keyId = created.keyMetadata.keyId;
    await v1.tagResource(
      new TagResourceRequest({
        keyId,
        tags: tags([
          ['env', 'prod'],
          ['team', 'risk'],
        ]),
      }),
    );
    const listed = await v1.listResourceTags(new ListResourceTagsRequest({ keyId }));
    expect(listed.tags.tag.map((t) => [t.keyId, t.tagKey, t.tagValue]).sort()).toEqual([
      [keyId, 'env', 'prod'],
      [keyId, 'team', 'risk'],
    ]);
    await v1.untagResource(new UntagResourceRequest({ keyId, tagKeys: JSON.stringify(['team', 'not-set']) }));
    const after = await v3('ListResourceTags', { KeyId: keyId });
    expect(after.body.Tags).toEqual({ Tag: [{ KeyId: keyId, TagKey: 'env', TagValue: 'prod' }] });
  });

  it('accepts an alias as KeyId', async () => {
    const created = await v3('CreateKey', { KeySpec: 'EC_P256', KeyUsage: 'SIGN/VERIFY' });
    const keyId = String((created.body.KeyMetadata as Record<string, unknown>).KeyId);
    await v3('CreateAlias', { KeyId: keyId, AliasName: 'alias/tagged' });
    await v3('TagResource', { KeyId: 'alias/tagged', Tags: tags([['via', 'alias']]) });
    const listed = await v3('ListResourceTags', { KeyId: keyId });
    expect(listed.body.Tags).toEqual({ Tag: [{ KeyId: keyId, TagKey: 'via', TagValue: 'alias' }] });
  });

  it('refuses bad tags, reserved keys, no or two resources, secrets, more than 20 tags and unknown keys', async () => {
    const created = await v3('CreateKey', { KeySpec: 'EC_P256', KeyUsage: 'SIGN/VERIFY' });
    const keyId = String((created.body.KeyMetadata as Record<string, unknown>).KeyId);
    const cases: Array<[Record<string, string>, number, string]> = [
      [{ KeyId: keyId, Tags: 'not json' }, 400, 'InvalidParameter'],
      [{ KeyId: keyId, Tags: tags([['acs:x', 'y']]) }, 400, 'InvalidParameter'],
      [{ KeyId: keyId, Tags: tags([['p11bridge:createdBy', 'me']]) }, 400, 'InvalidParameter'],
      [{ Tags: tags([['a', 'b']]) }, 400, 'InvalidParameter'],
      [{ KeyId: keyId, CertificateId: certificateId, Tags: tags([['a', 'b']]) }, 400, 'InvalidParameter'],
      [{ SecretName: 's', Tags: tags([['a', 'b']]) }, 400, 'Rejected.UnsupportedOperation'],
      [{ KeyId: 'f0000000-0000-4000-8000-000000000000', Tags: tags([['a', 'b']]) }, 404, 'Forbidden.KeyNotFound'],
    ];
    for (const [query, status, code] of cases) {
      const e = await sdkError(() => v3('TagResource', query));
      expect([query, e.statusCode, e.code]).toEqual([query, status, code]);
    }
    const many = Array.from({ length: 20 }, (_, i): [string, string] => [`k${i}`, 'v']);
    await v3('TagResource', { KeyId: keyId, Tags: tags(many.slice(0, 15)) });
    const over = await sdkError(() =>
      v3('TagResource', { KeyId: keyId, Tags: tags([...many.slice(15), ['k20', 'v']]) }),
    );
    expect([over.statusCode, over.code]).toEqual([400, 'Rejected.UnsupportedOperation']);
    const untag = await sdkError(() => v3('UntagResource', { KeyId: keyId, TagKeys: '"k1"' }));
    expect([untag.statusCode, untag.code]).toEqual([400, 'InvalidParameter']);
  });
});

describe('tags on certificates (CertificateId)', () => {
  it('TagResource on a certificate shows in DescribeCertificate Tags and ListResourceTags; UntagResource removes it', async () => {
    await v3('TagResource', { CertificateId: certificateId, Tags: tags([['owner', 'pki']]) });
    // The 1.2.0 client's TagResourceRequest has no CertificateId: its generic doRequest sends it (V1).
    await kmsRpc(d)('TagResource', { CertificateId: certificateId, Tags: tags([['tier', 'gold']]) });
    const described = await v3('DescribeCertificate', { CertificateId: certificateId });
    expect(described.body.Tags).toMatchObject({ owner: 'pki', tier: 'gold' });
    const listed = await v3('ListResourceTags', { CertificateId: certificateId });
    expect(listed.body.Tags).toEqual({
      Tag: expect.arrayContaining([
        { CertificateId: certificateId, TagKey: 'owner', TagValue: 'pki' },
        { CertificateId: certificateId, TagKey: 'tier', TagValue: 'gold' },
      ]) as unknown,
    });
    await v3('UntagResource', { CertificateId: certificateId, TagKeys: JSON.stringify(['owner']) });
    const again = await v3('DescribeCertificate', { CertificateId: certificateId });
    expect(again.body.Tags).toEqual({ tier: 'gold' });
    const nf = await sdkError(() => v3('TagResource', { CertificateId: 'no-such', Tags: tags([['a', 'b']]) }));
    expect([nf.statusCode, nf.code]).toEqual([404, 'Certificate.NotFound']);
  });

  it('refuses an access key the resource is not granted to with 403 Forbidden.RAM', async () => {
    const other = teaCaller(as(d, d.extraKeys.certsOnly as { id: string; secret: string }));
    const created = await v3('CreateKey', { KeySpec: 'EC_P256', KeyUsage: 'SIGN/VERIFY' });
    const keyId = String((created.body.KeyMetadata as Record<string, unknown>).KeyId);
    for (const query of [
      { KeyId: keyId, Tags: tags([['a', 'b']]) },
      { CertificateId: certificateId, Tags: tags([['a', 'b']]) },
    ]) {
      const e = await sdkError(() => other('TagResource', query));
      expect([e.statusCode, e.code]).toEqual([403, 'Forbidden.RAM']);
    }
    const list = await sdkError(() => other('ListResourceTags', { KeyId: keyId }));
    expect([list.statusCode, list.code]).toEqual([403, 'Forbidden.RAM']);
  });
});
