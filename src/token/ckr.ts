import * as pkcs11 from 'pkcs11js';
import { ApiError } from '../errors/apiError';

/**
 * The one file that names CKR_* values. A PKCS#11 error is sorted once:
 * - `input`: the caller's request cannot be served (wrong mechanism for the key, data too long); the session is fine;
 * - `stale`: an object handle is no longer valid (the token changed underneath us): re-index, then retry;
 * - `session`: this session is unusable: discard it, the next borrower gets a fresh one;
 * - `device`: the module or token is broken: drain, C_Finalize, C_Initialize, log in, re-index (single-flight).
 * Anything else is `internal`: answered as InternalError, session discarded to be safe.
 */
export type FaultClass = 'input' | 'stale' | 'session' | 'device' | 'internal';

const INPUT = new Set<number>([
  pkcs11.CKR_MECHANISM_INVALID,
  pkcs11.CKR_MECHANISM_PARAM_INVALID,
  pkcs11.CKR_KEY_TYPE_INCONSISTENT,
  pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED,
  pkcs11.CKR_KEY_SIZE_RANGE,
  pkcs11.CKR_DATA_LEN_RANGE,
  pkcs11.CKR_DATA_INVALID,
  pkcs11.CKR_ENCRYPTED_DATA_INVALID,
  pkcs11.CKR_ENCRYPTED_DATA_LEN_RANGE,
  pkcs11.CKR_ARGUMENTS_BAD,
  pkcs11.CKR_SIGNATURE_INVALID,
  pkcs11.CKR_SIGNATURE_LEN_RANGE,
]);

const STALE = new Set<number>([pkcs11.CKR_OBJECT_HANDLE_INVALID, pkcs11.CKR_KEY_HANDLE_INVALID]);

const SESSION = new Set<number>([
  pkcs11.CKR_SESSION_HANDLE_INVALID,
  pkcs11.CKR_SESSION_CLOSED,
  pkcs11.CKR_OPERATION_ACTIVE,
  pkcs11.CKR_OPERATION_NOT_INITIALIZED,
  pkcs11.CKR_BUFFER_TOO_SMALL,
  pkcs11.CKR_USER_NOT_LOGGED_IN,
]);

const DEVICE = new Set<number>([
  pkcs11.CKR_DEVICE_ERROR,
  pkcs11.CKR_DEVICE_REMOVED,
  pkcs11.CKR_DEVICE_MEMORY,
  pkcs11.CKR_TOKEN_NOT_PRESENT,
  pkcs11.CKR_TOKEN_NOT_RECOGNIZED,
  pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED,
  pkcs11.CKR_SESSION_COUNT,
  pkcs11.CKR_SLOT_ID_INVALID,
  pkcs11.CKR_PIN_EXPIRED,
]);

/** The numeric CKR of a pkcs11js error, or undefined when the error is not a PKCS#11 error. */
export function ckrOf(err: unknown): number | undefined {
  if (err instanceof pkcs11.Pkcs11Error) return err.code;
  if (err !== null && typeof err === 'object' && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'number') return code;
  }
  return undefined;
}

/** The fault class of an error raised by a PKCS#11 call. */
export function classify(err: unknown): FaultClass {
  const code = ckrOf(err);
  if (code === undefined) return 'internal';
  if (INPUT.has(code)) return 'input';
  if (STALE.has(code)) return 'stale';
  if (SESSION.has(code)) return 'session';
  if (DEVICE.has(code)) return 'device';
  return 'internal';
}

/** True when C_Login's error means we are already logged in (login is per application, not per session). */
export function isAlreadyLoggedIn(err: unknown): boolean {
  return ckrOf(err) === pkcs11.CKR_USER_ALREADY_LOGGED_IN;
}

/** True when C_Initialize's error means the library is already initialised in this process. */
export function isAlreadyInitialized(err: unknown): boolean {
  return ckrOf(err) === pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED;
}

/** The symbolic name of a CKR for logs (never for responses). */
export function ckrName(code: number): string {
  for (const [k, v] of Object.entries(pkcs11)) {
    if (k.startsWith('CKR_') && v === code) return k;
  }
  return `CKR_0x${code.toString(16)}`;
}

/**
 * The cloud error for a PKCS#11 failure. The response never carries the CKR: the cause is kept for the log.
 * `input` faults reach here only when our own pre-checks (key type, lengths) missed a case.
 */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  switch (classify(err)) {
    case 'input':
      return new ApiError('InvalidParameter', 'The token refused the request for this key and algorithm.', {
        cause: err,
      });
    case 'device':
    case 'stale':
    case 'session':
      return new ApiError('ServiceUnavailable', undefined, { cause: err });
    default:
      return new ApiError('InternalError', undefined, { cause: err });
  }
}
