import { z } from 'zod';
import { certificateSignAlgorithm } from '../../crypto/certificateSignAlgorithm';
import { certificateDetails } from '../../identities/certificates/x509Details';
import { certType, fuzzyMatch, listStatus, page, pagingParams, warehouseInstanceId } from '../shared/repository';
import type { ListCertResult } from '../results';
import { defineOperation } from '../types';

/**
 * CAS `ListCert` (2020-04-07): the certificates of every warehouse (configured token) the access key may use,
 * or only those named by `Identifiers`. Each row carries the newest models' `Algorithm`, `SerialNo` and
 * `SignAlgorithm`.
 * One row per identity that has a certificate (a PENDING identity has none yet and is not listed). Dates are
 * epoch milliseconds: `BeforeDate` = notBefore ("issuance time"), `AfterDate` = notAfter ("expiration time"),
 * as the SDK model describes them (the metadata sample has the two values the other way round).
 */
export const listCert = defineOperation({
  product: 'cas',
  action: 'ListCert',
  ramAction: 'yundun-cert:ListCert',
  params: z.object({
    KeyWord: z.string().optional(),
    WarehouseId: z.coerce.number().int().positive().optional(),
    Status: z.enum(['ISSUE', 'REVOKE']).optional(),
    SourceType: z.enum(['upload', 'aliyun']).optional(),
    CertType: z.enum(['CA', 'CERT']).optional(),
    /** Comma-separated identifiers: only these certificates (newest models). */
    Identifiers: z.string().optional(),
    ...pagingParams,
  }),
  async handle(ctx, p): Promise<ListCertResult> {
    const wanted = identifierSet(p.Identifiers);
    const rows = ctx.tokens.tokens
      .filter((token) => p.WarehouseId === undefined || token.warehouseId === p.WarehouseId)
      .flatMap((token) =>
        token.entries().flatMap((entry) => {
          if (!entry.certificate || !ctx.canUse(entry.id)) return [];
          if (wanted !== undefined && !wanted.has(entry.id)) return [];
          const d = certificateDetails(entry.certificate);
          return [
            {
              WhId: token.warehouseId,
              Identifier: entry.id,
              WhInstanceId: warehouseInstanceId(token.warehouseId),
              Status: listStatus(entry.metadata.status),
              // Every certificate here was uploaded (or provisioned) into the token: none is an Alibaba Cloud one.
              SourceType: 'upload',
              CertType: certType(entry),
              CommonName: d.commonName,
              BeforeDate: d.notBefore.getTime(),
              AfterDate: d.notAfter.getTime(),
              Issuer: d.issuerName,
              ExistPrivateKey: true,
              Sans: d.dnsNames.join(','),
              Algorithm: KEY_ALGORITHM[entry.keyType],
              // Lower-case hex, as the cloud's example (`038abf4c…`); KMS DescribeCertificate keeps upper case.
              SerialNo: d.serial.toLowerCase(),
              SignAlgorithm: certificateSignAlgorithm(entry.certificate.raw),
            },
          ];
        }),
      )
      .filter(
        (r) =>
          (p.Status === undefined || r.Status === p.Status) &&
          (p.SourceType === undefined || r.SourceType === p.SourceType) &&
          (p.CertType === undefined || r.CertType === p.CertType) &&
          fuzzyMatch(p.KeyWord, [r.CommonName, r.Sans, r.Identifier]),
      )
      .sort((a, b) => a.WhId - b.WhId || a.Identifier.localeCompare(b.Identifier));
    const { items, ...paging } = page(rows, p);
    return { ...paging, CertList: items };
  },
});

/** `ListCert.Algorithm`: the key's family as CAS names it. */
const KEY_ALGORITHM: Readonly<Record<'RSA' | 'EC' | 'SM2', string>> = { RSA: 'RSA', EC: 'ECC', SM2: 'SM2' };

/** The `Identifiers` filter: undefined when absent or empty (no filter), else the set of trimmed identifiers. */
function identifierSet(value: string | undefined): ReadonlySet<string> | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  return new Set(
    value
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v !== ''),
  );
}
