import { inProductTerms } from '../../../src/api/productErrors';
import { ApiError } from '../../../src/errors/apiError';

describe('inProductTerms', () => {
  it.each([
    ['Throttling.User', 'Rejected.Throttling', 400],
    ['ServiceUnavailable', 'ServiceUnavailableTemporary', 503],
    ['InternalError', 'InternalFailure', 500],
    ['UnsupportedOperation', 'Rejected.UnsupportedOperation', 400],
  ] as const)('answers a KMS request with %s as KMS names it (%s, HTTP %d)', (generic, kms, status) => {
    const shown = inProductTerms(new ApiError(generic), 'kms');
    expect({ code: shown.code, status: shown.status }).toEqual({ code: kms, status });
  });

  it('keeps the gateway codes for CAS and for a request that names no product', () => {
    for (const product of ['cas', undefined] as const) {
      expect(inProductTerms(new ApiError('Throttling.User'), product).code).toBe('Throttling.User');
      expect(inProductTerms(new ApiError('InternalError'), product).code).toBe('InternalError');
    }
  });

  it('keeps x-acs-retry-after, extra fields, the cause and a message written for the situation', () => {
    const cause = new Error('inner');
    const thrown = new ApiError('Throttling.User', undefined, { headers: { 'x-acs-retry-after': '100' }, cause });
    const shown = inProductTerms(thrown, 'kms');
    expect(shown.headers).toEqual({ 'x-acs-retry-after': '100' });
    expect(shown.message).toBe('QPS Limit Exceeded');
    expect(shown.cause).toBe(cause);
    const custom = inProductTerms(new ApiError('ServiceUnavailable', 'The token is recovering; retry shortly.'), 'kms');
    expect(custom.message).toBe('The token is recovering; retry shortly.');
  });

  it('leaves every other code alone', () => {
    const err = new ApiError('Certificate.NotFound');
    expect(inProductTerms(err, 'kms')).toBe(err);
  });
});
