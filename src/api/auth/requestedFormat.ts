import type { ParamPair } from './canonicalQuery';

/**
 * The response format the caller asked for: `XML` only when a `Format` parameter says so, compared
 * case-insensitively (SDKs send `json` and `JSON`); otherwise `JSON`, the KMS default and what every SDK
 * parses (protocol §4, §8.4, §12 item 7). The last `Format` wins, so `[...query, ...body]` gives the body's.
 *
 * Needs no authentication, so error replies, authentication failures included, can be rendered in the
 * requested format.
 */
export function requestedFormat(pairs: readonly ParamPair[]): 'JSON' | 'XML' {
  let format: string | undefined;
  for (const [name, value] of pairs) {
    if (name === 'Format') format = value;
  }
  return format !== undefined && format.toUpperCase() === 'XML' ? 'XML' : 'JSON';
}
