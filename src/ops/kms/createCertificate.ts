import { z } from 'zod';
import { keySpecRow } from '../../crypto/algorithms';
import { ApiError, invalidParameter } from '../../errors/apiError';
import { createCertificate as createOnToken } from '../../identities/certificates/issuance';
import type { TokenRegistry } from '../../token/tokenRegistry';
import type { TokenManager } from '../../token/tokenManager';
import type { CreateCertificateResult } from '../results';
import { defineOperation, type OpContext } from '../types';

/** The tag that records which access key created a certificate (for `accessKeys[].maxCertificates`). */
const CREATED_BY_TAG = 'p11bridge:createdBy';

/** The KeySpec values KMS CreateCertificate documents. */
const KEY_SPECS = ['RSA_2048', 'EC_P256', 'EC_SM2'] as const;

const NAMES_SHAPE = 'expected a JSON array of DNS names, e.g. ["a.example.com"], or a map of them.';

/**
 * `SubjectAlternativeNames` arrives as JSON in a string. The documentation's example is an array of DNS names;
 * the generated TypeScript model declares a map (`{ [key: string]: any }`), which the client sends as a JSON object:
 * its values (names, or arrays of names) are the DNS names, in order; its keys carry nothing the cloud documents.
 */
function parseNames(value: string | undefined): string[] {
  if (value === undefined || value.trim() === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw invalidParameter('SubjectAlternativeNames', NAMES_SHAPE);
  }
  const values: unknown[] = Array.isArray(parsed)
    ? parsed
    : parsed !== null && typeof parsed === 'object'
      ? Object.values(parsed).flat()
      : [parsed];
  if (!values.every((n): n is string => typeof n === 'string')) {
    throw invalidParameter('SubjectAlternativeNames', NAMES_SHAPE);
  }
  return values;
}

/**
 * The token a new certificate goes to: `WarehouseId` (our extension), else the first configured token that can
 * generate the key spec (EC_SM2 needs a token with an SM2 HSM profile), else the first token (which then refuses).
 */
function targetToken(ctx: OpContext, warehouseId: number | undefined, keySpec: string): TokenManager {
  const tokens: TokenRegistry = ctx.tokens;
  if (warehouseId === undefined) {
    // Only the warehouses this access key may create in (accessKeys[].warehouses) are candidates.
    const allowed = tokens.tokens.filter((t) => ctx.canCreateIn(t.warehouseId));
    const first = allowed[0];
    if (!first) {
      const any = tokens.tokens[0];
      if (!any) throw invalidParameter('WarehouseId', 'no token is configured.');
      ctx.assertCanCreateIn(any.warehouseId);
      return any;
    }
    const row = keySpecRow(keySpec);
    return (row && allowed.find((t) => t.canGenerate(row))) ?? first;
  }
  const token = tokens.byWarehouse(warehouseId);
  if (!token) throw invalidParameter('WarehouseId', `no warehouse ${warehouseId}.`);
  ctx.assertCanCreateIn(warehouseId);
  return token;
}

/** Refuses a key that has created its `maxCertificates` (counted on every token, by the creator tag). */
function assertQuota(ctx: OpContext): void {
  if (ctx.maxCertificates === undefined) return;
  let created = 0;
  for (const t of ctx.tokens.tokens) {
    for (const e of t.entries()) if (e.metadata.tags?.[CREATED_BY_TAG] === ctx.accessKeyId) created++;
  }
  if (created >= ctx.maxCertificates) {
    throw new ApiError(
      'QuotaExceeded',
      `This AccessKey has created ${created} certificates; its limit (accessKeys[].maxCertificates) is ${ctx.maxCertificates}.`,
    );
  }
}

/**
 * KMS `CreateCertificate` (2016-01-20): a key pair generated inside the token and a PKCS#10 CSR signed by it,
 * through PKCS#11; the certificate is PENDING until UploadCertificate. `ExportablePrivateKey` is accepted but
 * keys here are never exportable (DescribeCertificate reports false). Extension: `WarehouseId` picks the token.
 */
export const createCertificate = defineOperation({
  product: 'kms',
  action: 'CreateCertificate',
  ramAction: 'kms:CreateCertificate',
  params: z.object({
    Subject: z.string().min(1),
    KeySpec: z.enum(KEY_SPECS),
    SubjectAlternativeNames: z.string().optional(),
    ExportablePrivateKey: z.enum(['true', 'false']).optional(),
    WarehouseId: z.coerce.number().int().positive().optional(),
  }),
  async handle(ctx, p): Promise<CreateCertificateResult> {
    const names = parseNames(p.SubjectAlternativeNames);
    const token = targetToken(ctx, p.WarehouseId, p.KeySpec);
    assertQuota(ctx);
    const created = await createOnToken(token, {
      subject: p.Subject,
      keySpec: p.KeySpec,
      subjectAlternativeNames: names,
      tags: { [CREATED_BY_TAG]: ctx.accessKeyId },
      arnScope: ctx.config.server,
    });
    return { CertificateId: created.id, Csr: created.csrPem, Arn: created.arn };
  },
});
