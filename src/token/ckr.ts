import * as pkcs11 from 'pkcs11js';
import { TokenFault } from './faults';

/**
 * The one file that names CKR_* values. A PKCS#11 error is sorted once, into the rung of the recovery ladder
 * (docs/hsm/README.md) that answers it (the cloud code of each class is chosen above the token, once, in
 * src/api/lowerFloorErrors.ts):
 * - `input`: the caller's request cannot be served (wrong mechanism for the key, data too long); the session is fine;
 * - `stale`: an object handle is no longer valid (the token changed underneath us): re-read the index, retry once;
 * - `session`: this session is unusable: discard it, the next borrower gets a fresh one;
 * - `login`: the token forgot our login (CKR_USER_NOT_LOGGED_IN): log in again, retry once;
 * - `pin`: the token refused the PIN: never retried by itself (an HSM locks the account); the operator acts;
 * - `capacity`: the token is out of sessions or memory for now: answer "unavailable", keep everything else;
 * - `device`: the module or token is broken: one coordinated re-initialisation of the module;
 * Anything else is `internal`: answered as InternalError, session discarded to be safe.
 */
export type FaultClass = 'input' | 'stale' | 'session' | 'login' | 'pin' | 'capacity' | 'device' | 'internal';

const CLASSES: ReadonlyArray<readonly [FaultClass, readonly number[]]> = [
  [
    'input',
    [
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
    ],
  ],
  ['stale', [pkcs11.CKR_OBJECT_HANDLE_INVALID, pkcs11.CKR_KEY_HANDLE_INVALID]],
  [
    'session',
    [
      pkcs11.CKR_SESSION_HANDLE_INVALID,
      pkcs11.CKR_SESSION_CLOSED,
      pkcs11.CKR_OPERATION_ACTIVE,
      pkcs11.CKR_OPERATION_NOT_INITIALIZED,
      pkcs11.CKR_BUFFER_TOO_SMALL,
    ],
  ],
  ['login', [pkcs11.CKR_USER_NOT_LOGGED_IN]],
  [
    'pin',
    [
      pkcs11.CKR_PIN_INCORRECT,
      pkcs11.CKR_PIN_LOCKED,
      pkcs11.CKR_PIN_EXPIRED,
      pkcs11.CKR_PIN_INVALID,
      pkcs11.CKR_PIN_LEN_RANGE,
    ],
  ],
  ['capacity', [pkcs11.CKR_SESSION_COUNT, pkcs11.CKR_HOST_MEMORY, pkcs11.CKR_DEVICE_MEMORY]],
  [
    'device',
    [
      pkcs11.CKR_DEVICE_ERROR,
      pkcs11.CKR_DEVICE_REMOVED,
      pkcs11.CKR_TOKEN_NOT_PRESENT,
      pkcs11.CKR_TOKEN_NOT_RECOGNIZED,
      pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED,
      pkcs11.CKR_SLOT_ID_INVALID,
    ],
  ],
];

const CLASS_OF = new Map<number, FaultClass>(CLASSES.flatMap(([c, codes]) => codes.map((code) => [code, c] as const)));

/** The numeric CKR of a pkcs11js error, or undefined when the error is not a PKCS#11 error. */
export function ckrOf(err: unknown): number | undefined {
  if (err instanceof pkcs11.Pkcs11Error) return err.code;
  if (err instanceof TokenFault) return undefined;
  if (err !== null && typeof err === 'object' && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'number') return code;
  }
  return undefined;
}

/** The fault class of an error raised by a PKCS#11 call (`internal` for anything that is not one). */
export function classify(err: unknown): FaultClass {
  const code = ckrOf(err);
  return code === undefined ? 'internal' : (CLASS_OF.get(code) ?? 'internal');
}

/** True when C_Login's error means we are already logged in (login is per application, not per session). */
export function isAlreadyLoggedIn(err: unknown): boolean {
  return ckrOf(err) === pkcs11.CKR_USER_ALREADY_LOGGED_IN;
}

/**
 * True when C_GetAttributeValue's error means the object changed between the binding's length call and its value
 * call (another application writes it): the patched pkcs11js (patches/, docs/upstream/pkcs11js-null-buffer.md)
 * reports that as CKR_BUFFER_TOO_SMALL, as does a module when a value grew past the length it gave. Reading the
 * object again is the answer; it is not a fault of the session or the device.
 */
export function isChangedUnderneath(err: unknown): boolean {
  return ckrOf(err) === pkcs11.CKR_BUFFER_TOO_SMALL;
}

/** True when C_Initialize's error means the library is already initialised in this process. */
export function isAlreadyInitialized(err: unknown): boolean {
  return ckrOf(err) === pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED;
}

/** True when C_Finalize's error means there was nothing to finalise. */
export function isNotInitialized(err: unknown): boolean {
  return ckrOf(err) === pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED;
}

const NAMES = new Map<number, string>(
  Object.entries(pkcs11)
    .filter(([k, v]) => k.startsWith('CKR_') && typeof v === 'number')
    .map(([k, v]) => [v as number, k]),
);

/** The symbolic name of a CKR for logs (never for responses). */
export function ckrName(code: number): string {
  return NAMES.get(code) ?? `CKR_0x${code.toString(16)}`;
}

/** A short description of any error of the token layer, for logs: the CKR name, the fault, or the message. */
export function describeFault(e: unknown): string {
  const code = ckrOf(e);
  if (code !== undefined) return ckrName(code);
  if (e instanceof TokenFault) return `${e.kind}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

/**
 * For a failed C_Decrypt: the CKR name (for the log) when the token itself refused the ciphertext, else undefined.
 * With the key, mechanism and session known good, a PKCS#11 error of the `input` class or an unclassified one
 * (SoftHSM2 reports a bad OAEP encoding as CKR_GENERAL_ERROR) is the caller's ciphertext; faults (busy, unavailable,
 * a broken session or device) and everything that is not a PKCS#11 error stay what they are.
 */
export function ciphertextRefusal(e: unknown): string | undefined {
  const code = ckrOf(e);
  if (code === undefined) return undefined;
  const fault = classify(e);
  return fault === 'input' || fault === 'internal' ? ckrName(code) : undefined;
}
