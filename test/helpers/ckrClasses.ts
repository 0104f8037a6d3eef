import * as pkcs11 from 'pkcs11js';
import type { ErrorCode } from '../../src/errors/catalogue';
import type { FaultClass } from '../../src/token/ckr';

/**
 * Every CKR the ladder names, with the rung it must take (docs/hsm/README.md) and the cloud code the API layer
 * answers it with: read by the sorter's test (test/unit/token/ckr.test.ts) and the translator's
 * (test/unit/api/lowerFloorErrors.test.ts).
 */
export const CKR_TABLE: ReadonlyArray<readonly [string, number, FaultClass, ErrorCode]> = [
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
