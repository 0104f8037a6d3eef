import * as pkcs11 from 'pkcs11js';
import { ApiError } from '../../../src/errors/apiError';
import {
  ciphertextRefusal,
  ckrName,
  classify,
  describeFault,
  toApiError,
  type FaultClass,
} from '../../../src/token/ckr';
import { TokenFault } from '../../../src/token/faults';

const err = (code: number): Error => new pkcs11.Pkcs11Error(ckrName(code), code, 'C_Test');

/** Every CKR the ladder names, with the rung it must take (docs/hsm/README.md). */
const TABLE: ReadonlyArray<readonly [string, number, FaultClass, string]> = [
  ['CKR_MECHANISM_INVALID', pkcs11.CKR_MECHANISM_INVALID, 'input', 'InvalidParameter'],
  ['CKR_KEY_TYPE_INCONSISTENT', pkcs11.CKR_KEY_TYPE_INCONSISTENT, 'input', 'InvalidParameter'],
  ['CKR_KEY_FUNCTION_NOT_PERMITTED', pkcs11.CKR_KEY_FUNCTION_NOT_PERMITTED, 'input', 'InvalidParameter'],
  ['CKR_DATA_LEN_RANGE', pkcs11.CKR_DATA_LEN_RANGE, 'input', 'InvalidParameter'],
  ['CKR_ENCRYPTED_DATA_INVALID', pkcs11.CKR_ENCRYPTED_DATA_INVALID, 'input', 'InvalidParameter'],
  ['CKR_ARGUMENTS_BAD', pkcs11.CKR_ARGUMENTS_BAD, 'input', 'InvalidParameter'],
  ['CKR_OBJECT_HANDLE_INVALID', pkcs11.CKR_OBJECT_HANDLE_INVALID, 'stale', 'ServiceUnavailable'],
  ['CKR_KEY_HANDLE_INVALID', pkcs11.CKR_KEY_HANDLE_INVALID, 'stale', 'ServiceUnavailable'],
  ['CKR_SESSION_HANDLE_INVALID', pkcs11.CKR_SESSION_HANDLE_INVALID, 'session', 'ServiceUnavailable'],
  ['CKR_SESSION_CLOSED', pkcs11.CKR_SESSION_CLOSED, 'session', 'ServiceUnavailable'],
  ['CKR_OPERATION_ACTIVE', pkcs11.CKR_OPERATION_ACTIVE, 'session', 'ServiceUnavailable'],
  ['CKR_BUFFER_TOO_SMALL', pkcs11.CKR_BUFFER_TOO_SMALL, 'session', 'ServiceUnavailable'],
  ['CKR_USER_NOT_LOGGED_IN', pkcs11.CKR_USER_NOT_LOGGED_IN, 'login', 'ServiceUnavailable'],
  ['CKR_PIN_INCORRECT', pkcs11.CKR_PIN_INCORRECT, 'pin', 'ServiceUnavailable'],
  ['CKR_PIN_LOCKED', pkcs11.CKR_PIN_LOCKED, 'pin', 'ServiceUnavailable'],
  ['CKR_PIN_EXPIRED', pkcs11.CKR_PIN_EXPIRED, 'pin', 'ServiceUnavailable'],
  ['CKR_PIN_INVALID', pkcs11.CKR_PIN_INVALID, 'pin', 'ServiceUnavailable'],
  ['CKR_PIN_LEN_RANGE', pkcs11.CKR_PIN_LEN_RANGE, 'pin', 'ServiceUnavailable'],
  ['CKR_SESSION_COUNT', pkcs11.CKR_SESSION_COUNT, 'capacity', 'ServiceUnavailable'],
  ['CKR_DEVICE_MEMORY', pkcs11.CKR_DEVICE_MEMORY, 'capacity', 'ServiceUnavailable'],
  ['CKR_HOST_MEMORY', pkcs11.CKR_HOST_MEMORY, 'capacity', 'ServiceUnavailable'],
  ['CKR_DEVICE_ERROR', pkcs11.CKR_DEVICE_ERROR, 'device', 'ServiceUnavailable'],
  ['CKR_DEVICE_REMOVED', pkcs11.CKR_DEVICE_REMOVED, 'device', 'ServiceUnavailable'],
  ['CKR_TOKEN_NOT_PRESENT', pkcs11.CKR_TOKEN_NOT_PRESENT, 'device', 'ServiceUnavailable'],
  ['CKR_CRYPTOKI_NOT_INITIALIZED', pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED, 'device', 'ServiceUnavailable'],
  ['CKR_SLOT_ID_INVALID', pkcs11.CKR_SLOT_ID_INVALID, 'device', 'ServiceUnavailable'],
  ['CKR_GENERAL_ERROR', pkcs11.CKR_GENERAL_ERROR, 'internal', 'InternalError'],
  ['CKR_FUNCTION_FAILED', pkcs11.CKR_FUNCTION_FAILED, 'internal', 'InternalError'],
];

describe('the CKR translator', () => {
  it.each(TABLE)('sorts %s into its rung and answers the cloud code', (name, code, fault, apiCode) => {
    expect(ckrName(code)).toBe(name);
    expect(classify(err(code))).toBe(fault);
    const api = toApiError(err(code));
    expect(api.code).toBe(apiCode);
    // The response never names the CKR; the cause keeps it for the log.
    expect(api.message).not.toContain('CKR_');
    expect(api.cause).toBeInstanceOf(pkcs11.Pkcs11Error);
  });

  it('treats an error that crossed a thread as the same PKCS#11 error (a numeric code)', () => {
    expect(classify(Object.assign(new Error('x'), { code: pkcs11.CKR_DEVICE_REMOVED }))).toBe('device');
  });

  it('sorts anything that is not a PKCS#11 error as internal', () => {
    expect(classify(new Error('boom'))).toBe('internal');
    expect(classify('boom')).toBe('internal');
  });

  it('answers a busy token with Throttling.User and a retry hint, and a hang or outage with ServiceUnavailable', () => {
    const busy = toApiError(new TokenFault('busy', 'every session is busy'));
    expect(busy).toMatchObject({ code: 'Throttling.User', headers: { 'x-acs-retry-after': '100' } });
    for (const kind of ['timeout', 'unavailable', 'closed'] as const) {
      expect(toApiError(new TokenFault(kind, 'x'))).toMatchObject({ code: 'ServiceUnavailable', status: 503 });
    }
  });

  it('marks refusals of a token already known to be unavailable or busy as expected (no error line per request)', () => {
    for (const kind of ['unavailable', 'closed', 'busy'] as const) {
      expect(toApiError(new TokenFault(kind, 'x')).expected).toBe(true);
    }
    // A call that passed its deadline is news: it is logged with its request.
    expect(toApiError(new TokenFault('timeout', 'x')).expected).toBe(false);
    expect(toApiError(err(pkcs11.CKR_DEVICE_ERROR)).expected).toBe(false);
  });

  it('passes an ApiError through unchanged', () => {
    const e = new ApiError('Certificate.NotFound');
    expect(toApiError(e)).toBe(e);
  });

  it('names unknown codes in hex for the log', () => {
    expect(ckrName(0x8000_1234)).toBe('CKR_0x80001234');
    expect(describeFault(new TokenFault('timeout', 'late'))).toBe('timeout: late');
  });

  it('reads a token refusal of a ciphertext (InternalError or InvalidParameter over a CKR) as its CKR name', () => {
    // SoftHSM2 answers a bad OAEP encoding with CKR_GENERAL_ERROR, which the token layer reports as InternalError.
    expect(ciphertextRefusal(toApiError(err(pkcs11.CKR_GENERAL_ERROR)))).toBe('CKR_GENERAL_ERROR');
    expect(ciphertextRefusal(toApiError(err(pkcs11.CKR_ENCRYPTED_DATA_INVALID)))).toBe('CKR_ENCRYPTED_DATA_INVALID');
  });

  it('does not read a busy or broken token, or an error without a CKR, as a refused ciphertext', () => {
    expect(ciphertextRefusal(toApiError(new TokenFault('busy', 'x')))).toBeUndefined();
    expect(ciphertextRefusal(toApiError(err(pkcs11.CKR_DEVICE_REMOVED)))).toBeUndefined();
    expect(ciphertextRefusal(new ApiError('InternalError', undefined, { cause: new Error('boom') }))).toBeUndefined();
    expect(ciphertextRefusal(err(pkcs11.CKR_GENERAL_ERROR))).toBeUndefined();
  });
});
