import { z } from 'zod';
import type { CertificateStatus } from '../../token/metadata';
import type { KeyEntry } from '../../token/keyIndex';

/**
 * How the CAS certificate-repository view (ListCert, ListCertWarehouse, DescribeWarehouseCert) names what a
 * token holds. A warehouse is one configured token; its certificates are the token's identities.
 */

/** `WhInstanceId` / `InstanceId` of a warehouse. */
export function warehouseInstanceId(warehouseId: number): string {
  return `p11bridge-wh-${warehouseId}`;
}

/** CAS `ListCert.Status`: REVOKED is `REVOKE`; ACTIVE and INACTIVE are `ISSUE` (INACTIVE is a KMS usage state). */
export function listStatus(status: CertificateStatus): 'ISSUE' | 'REVOKE' {
  return status === 'REVOKED' ? 'REVOKE' : 'ISSUE';
}

/** CAS `DescribeWarehouseCert.CertStatus`, the same mapping in that operation's lower-case words. */
export function describeStatus(status: CertificateStatus): 'issued' | 'revoked' {
  return status === 'REVOKED' ? 'revoked' : 'issued';
}

/** CAS `CertType`: a CA certificate (basicConstraints cA) or an issued one. */
export function certType(entry: KeyEntry): 'CA' | 'CERT' {
  return entry.isCA ? 'CA' : 'CERT';
}

/** The largest page a list operation returns. */
const MAX_SHOW_SIZE = 1000;

/** `CurrentPage` (default 1) and `ShowSize` (default 50, at most 1000), as the CAS list operations take them. */
export const pagingParams = {
  CurrentPage: z.coerce.number().int().min(1).default(1),
  ShowSize: z.coerce.number().int().min(1).max(MAX_SHOW_SIZE).default(50),
};

/** One page of `rows` with the CAS paging fields. */
export function page<T>(
  rows: readonly T[],
  p: { CurrentPage: number; ShowSize: number },
): { items: T[]; CurrentPage: number; ShowSize: number; TotalCount: number } {
  const start = (p.CurrentPage - 1) * p.ShowSize;
  return {
    items: rows.slice(start, start + p.ShowSize),
    CurrentPage: p.CurrentPage,
    ShowSize: p.ShowSize,
    TotalCount: rows.length,
  };
}

/** Case-insensitive substring match (CAS "fuzzy" KeyWord / Name). */
export function fuzzyMatch(needle: string | undefined, haystack: readonly string[]): boolean {
  if (needle === undefined || needle === '') return true;
  const n = needle.toLowerCase();
  return haystack.some((h) => h.toLowerCase().includes(n));
}
