import { ApiError } from '../errors/apiError';
import { ERROR_CATALOGUE, type ErrorCode } from '../errors/catalogue';
import type { Product } from '../ops/types';

/**
 * The codes a product answers with in place of the gateway's generic ones. Lower layers throw the generic code
 * (`Throttling.User`, `ServiceUnavailable`, `InternalError`, `UnsupportedOperation`); the renderer asks this table
 * once per error, so a new throw anywhere gets the product's code without knowing the product.
 *
 * KMS: Alibaba's own KMS libraries back off on exactly `Rejected.Throttling`, `ServiceUnavailableTemporary` and
 * `InternalFailure` (encryption SDK and secrets-manager client `BackoffUtils`, the KMS instance SDK's
 * `IsRetryErr`); KMS metadata lists `400 Rejected.UnsupportedOperation` for what a key cannot do.
 * CAS keeps the gateway's names: its metadata documents no error codes at all (decision 0007).
 */
const PRODUCT_CODES: Readonly<Record<Product, Partial<Record<ErrorCode, ErrorCode>>>> = {
  kms: {
    'Throttling.User': 'Rejected.Throttling',
    ServiceUnavailable: 'ServiceUnavailableTemporary',
    InternalError: 'InternalFailure',
    UnsupportedOperation: 'Rejected.UnsupportedOperation',
  },
  cas: {},
};

/**
 * The error as `product` names it: same status class, headers (`x-acs-retry-after`), extra fields and cause.
 * A message the thrower wrote stays; the generic code's catalogue text becomes the product code's text.
 * Unknown product (no or an unserved `Version`): the error as thrown.
 */
export function inProductTerms(err: ApiError, product: Product | undefined): ApiError {
  const code = product === undefined ? undefined : PRODUCT_CODES[product][err.code];
  if (code === undefined) return err;
  const custom = err.message !== ERROR_CATALOGUE[err.code].message;
  return new ApiError(code, custom ? err.message : undefined, {
    ...(err.cause !== undefined ? { cause: err.cause } : {}),
    ...(err.extra ? { extra: err.extra } : {}),
    ...(err.headers ? { headers: err.headers } : {}),
  });
}
