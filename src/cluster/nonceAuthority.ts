import { ApiError } from '../errors/apiError';
import type { NonceCache } from '../api/auth/replayCache';
import type { NonceClaimsMessage, NonceResultsMessage } from './messages';

/**
 * The primary's side of the shared replay window: checks and records one worker message's claims in order,
 * in the one cache every worker asks. `f` when the window is full; any other failure is a programming error
 * and fails the claim rather than accepting it.
 */
export function answerNonceClaims(cache: NonceCache, message: NonceClaimsMessage): NonceResultsMessage {
  let results = '';
  let retryAfterMs: number | undefined;
  const n = Math.min(message.claims.length >> 1, message.at.length);
  for (let i = 0; i < n; i++) {
    const accessKeyId = message.claims[2 * i];
    const nonce = message.claims[2 * i + 1];
    const at = message.at[i];
    if (typeof accessKeyId !== 'string' || typeof nonce !== 'string' || typeof at !== 'number') {
      results += 'x';
      continue;
    }
    try {
      results += cache.checkAndRecord(accessKeyId, nonce, at) ? 'y' : 'n';
    } catch (e) {
      if (e instanceof ApiError && e.code === 'Throttling.User') {
        results += 't';
        const after = Number(e.headers?.['x-acs-retry-after']);
        if (Number.isFinite(after)) retryAfterMs = Math.max(retryAfterMs ?? 0, after);
      } else {
        results += e instanceof ApiError && e.code === 'ServiceUnavailable' ? 'f' : 'x';
      }
    }
  }
  return {
    p11bridge: 'nonces',
    id: message.id,
    results,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  };
}
