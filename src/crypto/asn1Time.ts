import { Time } from '@peculiar/asn1-x509';
import { EncodingError } from './encodingError';

/**
 * An X.509/CMS `Time` for a date: UTCTime for 1950–2049, GeneralizedTime otherwise (RFC 5280
 * §4.1.2.5, RFC 5652 §11.3), always in whole seconds because DER forbids fractional seconds there.
 * asn1-x509's own `Time(date)` picks UTCTime for every year up to 2049, which cannot express 1949.
 */
export function asn1Time(date: Date): Time {
  const ms = date.getTime();
  if (!Number.isFinite(ms)) throw new EncodingError('Time: invalid date');
  const seconds = new Date(Math.floor(ms / 1000) * 1000);
  const year = seconds.getUTCFullYear();
  if (year < 1 || year > 9999) throw new EncodingError('Time: year outside 0001–9999');
  return year >= 1950 && year <= 2049 ? new Time({ utcTime: seconds }) : new Time({ generalTime: seconds });
}
