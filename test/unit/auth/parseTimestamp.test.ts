import { parseTimestamp } from '../../../src/api/auth/parseTimestamp';

describe('parseTimestamp', () => {
  it('reads the SDK form YYYY-MM-DDTHH:mm:ssZ as UTC', () => {
    expect(parseTimestamp('2024-01-01T12:00:00Z')).toBe(Date.UTC(2024, 0, 1, 12, 0, 0));
  });

  it('reads milliseconds when written as .sssZ', () => {
    expect(parseTimestamp('2024-01-01T12:00:00.123Z')).toBe(Date.UTC(2024, 0, 1, 12, 0, 0, 123));
  });

  it('accepts 29 February in a leap year', () => {
    expect(parseTimestamp('2024-02-29T00:00:00Z')).toBe(Date.UTC(2024, 1, 29));
  });

  it.each([
    ['garbage', 'not-a-timestamp'],
    ['an empty string', ''],
    ['a date without time', '2024-01-01'],
    ['a numeric offset', '2024-01-01T12:00:00+08:00'],
    ['a missing Z', '2024-01-01T12:00:00'],
    ['a lower-case t', '2024-01-01t12:00:00Z'],
    ['a space instead of T', '2024-01-01 12:00:00Z'],
    ['two-digit milliseconds', '2024-01-01T12:00:00.12Z'],
    ['a comma before the milliseconds', '2024-01-01T12:00:00,123Z'],
    ['month 13', '2024-13-01T12:00:00Z'],
    ['day 0', '2024-01-00T12:00:00Z'],
    ['31 April', '2024-04-31T12:00:00Z'],
    ['29 February outside a leap year', '2023-02-29T12:00:00Z'],
    ['hour 24', '2024-01-01T24:00:00Z'],
    ['minute 60', '2024-01-01T12:60:00Z'],
    ['second 60', '2024-01-01T12:00:60Z'],
    ['a sign in a field', '2024-01-01T12:-1:00Z'],
    ['epoch milliseconds', '1704110400000'],
  ])('rejects %s', (_behaviour, value) => {
    expect(parseTimestamp(value)).toBeUndefined();
  });
});
