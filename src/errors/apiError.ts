import { ERROR_CATALOGUE, type ErrorCode } from './catalogue';

/** Extra fields some errors carry in the cloud envelope (for example `AccessDeniedDetail` on `Forbidden.RAM`). */
export interface ApiErrorOptions {
  /** The internal cause: logged with the RequestId, never rendered. */
  cause?: unknown;
  /** Extra envelope fields, rendered as given (PascalCase). */
  extra?: Record<string, unknown>;
  /** Extra response headers (for example `x-acs-retry-after` on throttling). */
  headers?: Record<string, string>;
  /**
   * The refusal is an expected consequence of a state already reported once where it arose (a token known to be
   * unavailable, every session busy): the request's own log line says so without an error and a stack each time.
   */
  expected?: boolean;
}

/**
 * The one error type an operation throws. `code` is a catalogue entry; `message` is what the caller sees
 * (defaults to the catalogue's text) and must never contain a secret, a path or a PKCS#11 detail.
 */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly extra: Record<string, unknown> | undefined;
  readonly headers: Record<string, string> | undefined;
  readonly expected: boolean;

  constructor(code: ErrorCode, message?: string, options: ApiErrorOptions = {}) {
    super(message ?? ERROR_CATALOGUE[code].message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ApiError';
    this.code = code;
    this.status = ERROR_CATALOGUE[code].status;
    this.extra = options.extra;
    this.headers = options.headers;
    this.expected = options.expected ?? false;
  }
}

/** `InvalidParameter` naming the parameter and what is wrong with it. */
export function invalidParameter(name: string, why: string): ApiError {
  return new ApiError('InvalidParameter', `The specified parameter ${name} is not valid: ${why}`);
}

/** `MissingParameter` in the PopGw wording: "`{Name}` is mandatory for this action." */
export function missingParameter(name: string): ApiError {
  return new ApiError('MissingParameter', `${name} is mandatory for this action.`);
}
