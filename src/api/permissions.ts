import { ApiError } from '../errors/apiError';

/** An access key as the gateway uses it: secret resolved at start and on every reload. */
export interface ResolvedAccessKey {
  readonly id: string;
  readonly secret: string;
  readonly enabled: boolean;
  readonly actions: readonly string[];
  readonly certificates: readonly string[];
  /** Warehouses where the key may create certificates (`*`: all). */
  readonly warehouses: ReadonlyArray<number | '*'>;
  /** Most certificates the key may create; undefined: no limit. */
  readonly maxCertificates?: number;
  readonly maxKeys?: number;
  /** The client certificate a request signed with this key must arrive with (upper-case hex SHA-256, or subject). */
  readonly clientCertificate?: { readonly sha256: string } | { readonly subject: string };
}

/** True when a granted action pattern (`*`, `kms:*`, `kms:CertificatePrivateKeySign`) covers `ramAction`. */
export function actionAllowed(granted: readonly string[], ramAction: string): boolean {
  for (const g of granted) {
    if (g === '*' || g === ramAction) return true;
    if (g.endsWith(':*') && ramAction.startsWith(g.slice(0, -1))) return true;
  }
  return false;
}

/** True when the key may use this certificate identifier. */
export function certificateAllowed(key: ResolvedAccessKey, id: string): boolean {
  return key.certificates.includes('*') || key.certificates.includes(id);
}

/** True when the key may create certificates in this warehouse. */
export function warehouseAllowed(key: ResolvedAccessKey, warehouseId: number): boolean {
  return key.warehouses.includes('*') || key.warehouses.includes(warehouseId);
}

/**
 * `403 Forbidden.RAM` with the `AccessDeniedDetail` object the cloud sends (protocol §8.3); openapi-core
 * surfaces it as `err.accessDeniedDetail`.
 */
export function forbidden(key: ResolvedAccessKey, ramAction: string, accountId: string, resource?: string): ApiError {
  const diagnostic = { AuthAction: ramAction, Resource: resource ?? '*', AccessKeyId: key.id };
  return new ApiError('Forbidden.RAM', undefined, {
    extra: {
      AccessDeniedDetail: {
        AuthAction: ramAction,
        AuthPrincipalType: 'AccessKey',
        AuthPrincipalDisplayName: key.id,
        AuthPrincipalOwnerId: accountId,
        PolicyType: 'AccountLevelIdentityBasedPolicy',
        NoPermissionType: 'ImplicitDeny',
        EncodedDiagnosticMessage: Buffer.from(JSON.stringify(diagnostic)).toString('base64'),
      },
    },
  });
}
