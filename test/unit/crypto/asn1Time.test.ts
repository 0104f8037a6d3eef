import { asn1Time } from '../../../src/crypto/asn1Time';
import { EncodingError } from '../../../src/crypto/encodingError';

describe('asn1Time', () => {
  it.each([
    ['1949-12-31T23:59:59Z', 'generalTime'],
    ['1950-01-01T00:00:00Z', 'utcTime'],
    ['2049-12-31T23:59:59Z', 'utcTime'],
    ['2050-01-01T00:00:00Z', 'generalTime'],
  ] as const)('encodes %s as %s (RFC 5280 §4.1.2.5)', (iso, field) => {
    const time = asn1Time(new Date(iso));
    expect(time[field]?.toISOString()).toBe(new Date(iso).toISOString());
    expect(time[field === 'utcTime' ? 'generalTime' : 'utcTime']).toBeUndefined();
  });

  it('drops fractional seconds, which DER time values may not carry', () => {
    expect(asn1Time(new Date('2030-06-01T12:00:00.999Z')).utcTime?.toISOString()).toBe('2030-06-01T12:00:00.000Z');
  });

  it('rejects an invalid date', () => {
    expect(() => asn1Time(new Date('not a date'))).toThrow(EncodingError);
  });
});
