import { ApiError } from '../../errors/apiError';
import type { Pair } from '../rpcRequest';

/** The per-request parameter bounds (config `server.limits`). */
export interface ParameterLimits {
  readonly maxParameters: number;
  readonly maxParameterBytes: number;
}

/** Number of `&`-separated parts in a query or form string, counted without decoding anything. */
export function countParts(s: string): number {
  if (s.length === 0) return 0;
  let n = 1;
  for (let i = s.indexOf('&'); i >= 0; i = s.indexOf('&', i + 1)) n++;
  return n;
}

/**
 * Refuses, before any parsing or authentication work, a request whose raw query and body hold more parts than
 * `maxParameters` (a 64 KiB URL can carry ~30,000 of them).
 * @throws ApiError `InvalidParameter`
 */
export function assertPartCount(query: string, body: string, limits: ParameterLimits): void {
  const parts = countParts(query) + countParts(body);
  if (parts > limits.maxParameters) {
    throw new ApiError(
      'InvalidParameter',
      `The request has ${parts} parameters; at most ${limits.maxParameters} are accepted.`,
    );
  }
}

/**
 * Refuses a decoded parameter value larger than `maxParameterBytes` (before authentication: the signature is
 * computed over every value).
 * @throws ApiError `InvalidParameter`
 */
export function assertValueSizes(pairs: readonly Pair[], limits: ParameterLimits): void {
  for (const [name, value] of pairs) {
    // A string's UTF-8 length is at most 3 × its UTF-16 length: measure only values that might exceed the limit.
    if (value.length * 3 > limits.maxParameterBytes && Buffer.byteLength(value) > limits.maxParameterBytes) {
      throw new ApiError(
        'InvalidParameter',
        `The specified parameter ${name.slice(0, 64)} is not valid: it exceeds ${limits.maxParameterBytes} bytes.`,
      );
    }
  }
}
