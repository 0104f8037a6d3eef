import { canonicalQuery } from '../../../src/api/auth/canonicalQuery';
import { percentEncode } from '../../../src/api/auth/percentEncode';
import { decodePairs } from './requestView';
import { SPECIAL_CHARACTERS } from './vectors';

describe('percentEncode', () => {
  it.each([
    ['A-Za-z0-9-_.~ are kept', 'AZaz09-_.~', 'AZaz09-_.~'],
    ['* is encoded', '*', '%2A'],
    ["' is encoded", "'", '%27'],
    ['( and ) are encoded', '()', '%28%29'],
    ['! is encoded', '!', '%21'],
    ['~ is kept', '~', '~'],
    ['space is %20, never +', ' ', '%20'],
    ['+ is encoded', '+', '%2B'],
    ['/ is encoded', '/', '%2F'],
    ['= is encoded', '=', '%3D'],
    ['% is encoded', '%', '%25'],
    ['& is encoded', '&', '%26'],
    ['é is its UTF-8 bytes', 'é', '%C3%A9'],
    ['a 3-byte character is its UTF-8 bytes', '中', '%E4%B8%AD'],
    ['a surrogate pair is one 4-byte character', '😀', '%F0%9F%98%80'],
    ['a lone surrogate becomes U+FFFD', '\ud800x', '%EF%BF%BDx'],
    ['the empty string stays empty', '', ''],
    ['hex is upper case', '\n', '%0A'],
    ['unreserved runs around encoded characters are kept', 'ab cd+ef', 'ab%20cd%2Bef'],
  ])('%s', (_behaviour, input, expected) => {
    expect(percentEncode(input)).toBe(expected);
  });

  it('agrees with encodeURIComponent plus the RFC 3986 extras on every BMP character', () => {
    for (let c = 0; c < 0xd800; c++) {
      const s = 'a' + String.fromCharCode(c) + 'b';
      const reference = encodeURIComponent(s).replace(
        /[!'()*]/g,
        (x) => '%' + x.charCodeAt(0).toString(16).toUpperCase(),
      );
      expect(percentEncode(s)).toBe(reference);
    }
  });

  it('encodes lone surrogates anywhere exactly as Buffer does (U+FFFD)', () => {
    const unreserved = /[A-Za-z0-9\-_.~]/;
    for (const s of ['\udc00', 'a\ud800', '\ud800\ud800', '\udbff\udfff\udfff']) {
      const reference = Array.from(Buffer.from(s, 'utf8'), (b) =>
        unreserved.test(String.fromCharCode(b)) ? String.fromCharCode(b) : '%' + b.toString(16).toUpperCase(),
      ).join('');
      expect(percentEncode(s)).toBe(reference);
    }
  });
});

describe('canonicalQuery', () => {
  it('re-encodes the SDK wire form of the special-characters capture into the canonical form (§10)', () => {
    const pairs = decodePairs(SPECIAL_CHARACTERS.wire);
    expect(pairs).toEqual([['KeyWord', SPECIAL_CHARACTERS.value]]);
    expect(canonicalQuery(pairs)).toBe(SPECIAL_CHARACTERS.canonical);
  });

  it('sorts names in ordinal order, so Key.10 sorts before Key.2', () => {
    const pairs: Array<[string, string]> = [
      ['Key.2', 'c'],
      ['Key.10', 'b'],
      ['Key.1', 'a'],
      ['a', 'lower'],
      ['B', 'upper'],
    ];
    expect(canonicalQuery(pairs)).toBe('B=upper&Key.1=a&Key.10=b&Key.2=c&a=lower');
  });

  it('writes an empty value as name=', () => {
    expect(canonicalQuery([['Empty', '']])).toBe('Empty=');
  });

  it('encodes names as well as values', () => {
    expect(canonicalQuery([['a b', 'c d']])).toBe('a%20b=c%20d');
  });

  it('leaves its input untouched', () => {
    const pairs: Array<[string, string]> = [
      ['b', '2'],
      ['a', '1'],
    ];
    canonicalQuery(pairs);
    expect(pairs).toEqual([
      ['b', '2'],
      ['a', '1'],
    ]);
  });

  it('is empty for no parameters', () => {
    expect(canonicalQuery([])).toBe('');
  });
});
