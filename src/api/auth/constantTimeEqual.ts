import { timingSafeEqual } from 'node:crypto';

/**
 * Compares a computed signature with the one the client sent without leaking, through timing, how many
 * leading bytes match. Only the length can leak, and the length of a valid signature is public (fixed by
 * the algorithm). `timingSafeEqual` needs equal lengths, hence the check before it.
 */
export function constantTimeEqual(expected: string, received: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(received, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
