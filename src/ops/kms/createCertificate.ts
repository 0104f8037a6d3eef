import { z } from 'zod';
import { keySpecRow } from '../../crypto/algorithms';
import { invalidParameter } from '../../errors/apiError';
import { createCertificate as createOnToken } from '../../token/certificates';
import type { TokenRegistry } from '../../token/tokenRegistry';
import type { TokenManager } from '../../token/tokenManager';
import { defineOperation } from '../types';

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
function targetToken(tokens: TokenRegistry, warehouseId: number | undefined, keySpec: string): TokenManager {
  if (warehouseId === undefined) {
    const row = keySpecRow(keySpec);
    const first = (row && tokens.tokens.find((t) => t.canGenerate(row))) ?? tokens.tokens[0];
    if (!first) throw invalidParameter('WarehouseId', 'no token is configured.');
    return first;
  }
  const token = tokens.byWarehouse(warehouseId);
  if (!token) throw invalidParameter('WarehouseId', `no warehouse ${warehouseId}.`);
  return token;
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
  async handle(ctx, p) {
    const names = parseNames(p.SubjectAlternativeNames);
    const token = targetToken(ctx.tokens, p.WarehouseId, p.KeySpec);
    const created = await createOnToken(token, {
      subject: p.Subject,
      keySpec: p.KeySpec,
      subjectAlternativeNames: names,
      arnScope: ctx.config.server,
    });
    return { CertificateId: created.id, Csr: created.csrPem, Arn: created.arn };
  },
});
