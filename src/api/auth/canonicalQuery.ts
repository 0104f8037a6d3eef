import { percentEncode } from './percentEncode';

/** A decoded `name=value` pair, as it came off the wire (query string or form body). */
export type ParamPair = readonly [name: string, value: string];

function byName(a: ParamPair, b: ParamPair): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/**
 * The canonical query string both signature schemes sign: pairs sorted by name, each written as
 * `percentEncode(name)=percentEncode(value)` (an empty value gives `name=`), joined with `&`
 * (protocol §5 steps 3–5, §6 CanonicalQueryString).
 *
 * Input must be *decoded* pairs: the SDKs' wire form differs from the canonical one (`querystring.stringify`
 * leaves `*'()!` unescaped), so the raw query string is never signed as received (§0 item 6).
 *
 * Names are compared by UTF-16 code unit, which is what the signing SDKs do (`Object.keys(..).sort()`); it
 * equals byte order for the ASCII names these APIs use (`Key.1 < Key.10 < Key.2`). The sort is stable, so a
 * repeated name keeps its wire order. The input array is not modified.
 */
export function canonicalQuery(pairs: readonly ParamPair[]): string {
  const sorted = pairs.slice().sort(byName);
  const parts = new Array<string>(sorted.length);
  for (let i = 0; i < sorted.length; i++) {
    const [name, value] = sorted[i]!;
    parts[i] = percentEncode(name) + '=' + percentEncode(value);
  }
  return parts.join('&');
}
