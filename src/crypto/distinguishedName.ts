import { AttributeTypeAndValue, AttributeValue, Name, RelativeDistinguishedName } from '@peculiar/asn1-x509';
import { toDer } from './asn1';
import { derSetOrder } from './der';
import { EncodingError } from './encodingError';

/**
 * Distinguished names as strings, in RFC 4514 (≡ RFC 2253) order both ways: the string lists RDNs from
 * the last one in the DER `RDNSequence` to the first, so `CN=a,OU=b,O=c,C=CN` encodes C first, exactly
 * as Alibaba's CreateCertificate CSRs do for that same example subject (KMS CreateCertificate doc).
 * `formatName(parseDistinguishedName(s))` gives back `s` for any canonical `s`.
 */

type ValueEncoding = 'directory' | 'country' | 'ia5';

interface AttributeSpec {
  /** The name `formatName` prints. */
  readonly short: string;
  /** Every name `parseDistinguishedName` accepts, upper-case. */
  readonly names: readonly string[];
  readonly oid: string;
  readonly encoding: ValueEncoding;
  /** Upper bounds from RFC 5280 Appendix A.1 (ub-common-name and friends), in characters. */
  readonly maxLength: number;
}

const ATTRIBUTES: readonly AttributeSpec[] = [
  { short: 'CN', names: ['CN'], oid: '2.5.4.3', encoding: 'directory', maxLength: 64 },
  { short: 'OU', names: ['OU'], oid: '2.5.4.11', encoding: 'directory', maxLength: 64 },
  { short: 'O', names: ['O'], oid: '2.5.4.10', encoding: 'directory', maxLength: 64 },
  { short: 'L', names: ['L'], oid: '2.5.4.7', encoding: 'directory', maxLength: 128 },
  { short: 'ST', names: ['ST'], oid: '2.5.4.8', encoding: 'directory', maxLength: 128 },
  { short: 'C', names: ['C'], oid: '2.5.4.6', encoding: 'country', maxLength: 2 },
  // PKCS#9 emailAddress; Alibaba's console calls it "Email(E)", OpenSSL "emailAddress".
  { short: 'E', names: ['E', 'EMAILADDRESS'], oid: '1.2.840.113549.1.9.1', encoding: 'ia5', maxLength: 255 },
];

const BY_NAME = new Map(ATTRIBUTES.flatMap((spec) => spec.names.map((name) => [name, spec] as const)));
const BY_OID = new Map(ATTRIBUTES.map((spec) => [spec.oid, spec] as const));

/** X.680 PrintableString repertoire. */
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;
// eslint-disable-next-line no-control-regex -- IA5String is exactly 7-bit ASCII, control characters included.
const IA5 = /^[\x00-\x7f]*$/;

/**
 * The value's ASN.1 string type. PrintableString when the text allows it, else UTF8String: what Java's
 * X500Principal (and so Alibaba's CSRs: `ST` arrives as PrintableString) produces, and within RFC 5280
 * §4.1.2.6. C is always PrintableString (X.520) and E always IA5String (PKCS#9).
 */
function attributeValue(spec: AttributeSpec, text: string): AttributeValue {
  if (text.length === 0) throw new EncodingError(`DN: ${spec.short} is empty`);
  if ([...text].length > spec.maxLength) {
    throw new EncodingError(`DN: ${spec.short} is longer than ${spec.maxLength} characters`);
  }
  switch (spec.encoding) {
    case 'country':
      if (!/^[A-Za-z]{2}$/.test(text)) throw new EncodingError('DN: C must be a two-letter ISO 3166 code');
      return new AttributeValue({ printableString: text });
    case 'ia5':
      if (!IA5.test(text)) throw new EncodingError(`DN: ${spec.short} must be ASCII`);
      return new AttributeValue({ ia5String: text });
    case 'directory':
      return PRINTABLE.test(text)
        ? new AttributeValue({ printableString: text })
        : new AttributeValue({ utf8String: text });
  }
}

/** Characters RFC 4514 §3 allows after a backslash as themselves. */
const ESCAPABLE = new Set([',', '+', '"', '\\', '<', '>', ';', '=', '#', ' ']);
/** Characters RFC 4514 §3 requires escaped inside a value. */
const MUST_ESCAPE = new Set(['"', ';', '<', '>']);

interface ParsedAttribute {
  readonly type: string;
  readonly value: string;
}

/**
 * Splits an RFC 4514 string into RDNs of (type, unescaped value). Accepts `\,`-style and `\2C`-style
 * (UTF-8 hex) escapes and ignores unescaped spaces around types, values and separators (RFC 2253
 * writers often put a space after the comma). Rejects `#hex` values and unescaped `"`, `;`, `<`, `>`.
 */
function splitDn(dn: string): ParsedAttribute[][] {
  const rdns: ParsedAttribute[][] = [];
  let rdn: ParsedAttribute[] = [];
  let i = 0;
  // Only leading whitespace is trimmed here: a trailing space may be escaped (`CN=a\ `).
  const text = dn.replace(/^\s+/, '');
  if (text.trim() === '') return rdns;
  for (;;) {
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new EncodingError(`DN: expected "type=value" at position ${i}`);
    const type = text.slice(i, eq).trim();
    i = eq + 1;
    while (text[i] === ' ') i++;
    if (text[i] === '#') throw new EncodingError(`DN: hex-encoded values (#…) are not supported (${type})`);
    const bytes: number[] = [];
    let significant = 0; // length of `bytes` up to the last escaped or non-space character
    for (; i < text.length; i++) {
      const ch = String.fromCodePoint(text.codePointAt(i) ?? 0);
      if (ch === ',' || ch === '+') break;
      if (ch === '\\') {
        const next = text.charAt(i + 1);
        const hex = text.slice(i + 1, i + 3);
        if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
          bytes.push(parseInt(hex, 16));
          i += 2;
        } else if (ESCAPABLE.has(next)) {
          bytes.push(next.charCodeAt(0));
          i += 1;
        } else {
          throw new EncodingError(`DN: invalid escape at position ${i}`);
        }
        significant = bytes.length;
        continue;
      }
      if (MUST_ESCAPE.has(ch)) throw new EncodingError(`DN: "${ch}" must be escaped as "\\${ch}"`);
      bytes.push(...Buffer.from(ch, 'utf8'));
      if (ch !== ' ') significant = bytes.length;
      i += ch.length - 1; // a character outside the BMP is two UTF-16 code units
    }
    rdn.push({ type, value: decodeUtf8(bytes.slice(0, significant)) });
    if (i >= text.length) break;
    if (text.charAt(i) === ',') {
      rdns.push(rdn);
      rdn = [];
    }
    i++;
  }
  rdns.push(rdn);
  return rdns;
}

function decodeUtf8(bytes: number[]): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
  } catch (cause) {
    throw new EncodingError('DN: escaped bytes are not valid UTF-8', { cause });
  }
}

/**
 * Parses an RFC 4514 string (`CN=example.com,OU=IT,O=Example\, Inc.,C=CN`) into an asn1-x509 `Name`.
 * Supported types: CN, OU, O, L, ST, C, and E / emailAddress (case-insensitive); multi-valued RDNs
 * with `+`. An empty string is the empty name. Throws `EncodingError` on anything else.
 */
export function parseDistinguishedName(dn: string): Name {
  const rdns = splitDn(dn).map((attributes) => {
    const atvs = attributes.map(({ type, value }) => {
      const spec = BY_NAME.get(type.toUpperCase());
      if (spec === undefined) throw new EncodingError(`DN: unsupported attribute type "${type}"`);
      return new AttributeTypeAndValue({ type: spec.oid, value: attributeValue(spec, value) });
    });
    // An RDN is a SET OF: DER orders its members by encoding (X.690 §11.6).
    return new RelativeDistinguishedName(derSetOrder(atvs, toDer));
  });
  // RFC 4514 §2.1: the string starts with the last RDN of the sequence.
  return new Name(rdns.reverse());
}

/** RFC 4514 §2.4 escaping of a string value. */
function escapeValue(value: string): string {
  let out = '';
  for (const ch of value) {
    if (ch === '\0') out += '\\00';
    else if (ESCAPABLE.has(ch) && ch !== ' ' && ch !== '#' && ch !== '=') out += `\\${ch}`;
    else out += ch;
  }
  if (out.startsWith('#') || out.startsWith(' ')) out = `\\${out}`;
  if (out.endsWith(' ') && !out.endsWith('\\ ')) out = `${out.slice(0, -1)}\\ `;
  return out;
}

function formatAttribute(atv: AttributeTypeAndValue): string {
  const type = BY_OID.get(atv.type)?.short ?? atv.type;
  // Values of a type asn1-x509 cannot read as a string keep their DER, printed as #hex (RFC 4514 §2.4).
  if (atv.value.anyValue !== undefined) return `${type}=#${Buffer.from(atv.value.anyValue).toString('hex')}`;
  return `${type}=${escapeValue(atv.value.toString())}`;
}

/**
 * Prints a `Name` as an RFC 4514 string: last RDN first, `,` between RDNs, `+` inside one, short names
 * for the types `parseDistinguishedName` knows (`E` for emailAddress), dotted OIDs for the rest.
 */
export function formatName(name: Name): string {
  return [...name]
    .reverse()
    .map((rdn) => [...rdn].map(formatAttribute).join('+'))
    .join(',');
}
