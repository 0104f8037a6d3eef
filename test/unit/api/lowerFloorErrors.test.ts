import * as pkcs11 from 'pkcs11js';
import { toApiError } from '../../../src/api/lowerFloorErrors';
import { PlanError } from '../../../src/crypto/planError';
import { ApiError } from '../../../src/errors/apiError';
import { ckrName } from '../../../src/token/ckr';
import { KeyNotFoundFault, TokenCapabilityFault, TokenFault } from '../../../src/token/faults';
import { CKR_TABLE } from '../../helpers/ckrClasses';

const err = (code: number): Error => new pkcs11.Pkcs11Error(ckrName(code), code, 'C_Test');

describe('the translator of lower-floor errors', () => {
  it.each(CKR_TABLE)('answers %s with the cloud code of its class', (_name, code, _fault, apiCode) => {
    const api = toApiError(err(code));
    expect(api.code).toBe(apiCode);
    // The response never names the CKR; the cause keeps it for the log.
    expect(api.message).not.toContain('CKR_');
    expect(api.cause).toBeInstanceOf(pkcs11.Pkcs11Error);
  });

  it('tells the caller to retry a token outage after a second', () => {
    expect(toApiError(err(pkcs11.CKR_DEVICE_REMOVED))).toMatchObject({
      code: 'ServiceUnavailable',
      headers: { 'x-acs-retry-after': '1000' },
    });
  });

  it('answers a busy token with Throttling.User and a retry hint, and a hang or outage with ServiceUnavailable', () => {
    const busy = toApiError(new TokenFault('busy', 'every session is busy', { retryAfterMs: 100 }));
    expect(busy).toMatchObject({ code: 'Throttling.User', headers: { 'x-acs-retry-after': '100' } });
    for (const kind of ['timeout', 'unavailable', 'closed'] as const) {
      expect(toApiError(new TokenFault(kind, 'x'))).toMatchObject({
        code: 'ServiceUnavailable',
        status: 503,
        headers: { 'x-acs-retry-after': '1000' },
      });
    }
  });

  it('renders the retry hint the token layer gave as data, whatever it is', () => {
    expect(toApiError(new TokenFault('busy', 'x', { retryAfterMs: 250 })).headers).toEqual({
      'x-acs-retry-after': '250',
    });
  });

  it('marks refusals of a token already known to be unavailable or busy as expected (no error line per request)', () => {
    for (const kind of ['unavailable', 'closed', 'busy'] as const) {
      expect(toApiError(new TokenFault(kind, 'x')).expected).toBe(true);
    }
    // A call that passed its deadline is news: it is logged with its request.
    expect(toApiError(new TokenFault('timeout', 'x')).expected).toBe(false);
    expect(toApiError(err(pkcs11.CKR_DEVICE_ERROR)).expected).toBe(false);
  });

  it("answers a planner's refusal with its reason's code and the planner's message", () => {
    expect(toApiError(new PlanError('input', 'The digest must be 32 bytes.'))).toMatchObject({
      code: 'InvalidParameter',
      status: 400,
      message: 'The digest must be 32 bytes.',
    });
    expect(toApiError(new PlanError('unsupported', 'needs SM2'))).toMatchObject({
      code: 'UnsupportedOperation',
      message: 'needs SM2',
    });
  });

  it('answers a key gone from the index with Certificate.NotFound, and a capability the token lacks as unsupported', () => {
    expect(toApiError(new KeyNotFoundFault('abc'))).toMatchObject({ code: 'Certificate.NotFound', status: 404 });
    expect(toApiError(new TokenCapabilityFault('KeySpec EC_SM2 needs an HSM profile on this token.'))).toMatchObject({
      code: 'UnsupportedOperation',
      message: 'KeySpec EC_SM2 needs an HSM profile on this token.',
    });
  });

  it('answers anything else with InternalError, never with its message', () => {
    const api = toApiError(new Error('/secret/path/to/module.so failed'));
    expect(api).toMatchObject({ code: 'InternalError', status: 500 });
    expect(api.message).not.toContain('/secret');
  });

  it('passes an ApiError through unchanged', () => {
    const e = new ApiError('Certificate.NotFound');
    expect(toApiError(e)).toBe(e);
  });
});
