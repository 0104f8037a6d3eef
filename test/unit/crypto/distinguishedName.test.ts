import { AsnConvert } from '@peculiar/asn1-schema';
import { AttributeTypeAndValue, AttributeValue, Name, RelativeDistinguishedName } from '@peculiar/asn1-x509';
import { formatName, parseDistinguishedName } from '../../../src/crypto/distinguishedName';
import { EncodingError } from '../../../src/crypto/encodingError';

const der = (name: Name): string => Buffer.from(AsnConvert.serialize(name)).toString('hex');
/** The (short-name, value, ASN.1 string type) triples of a Name, in DER sequence order. */
function describeName(name: Name): string[] {
  return [...name].flatMap((rdn) =>
    [...rdn].map((atv) => {
      const v = atv.value;
      const kind = v.printableString !== undefined ? 'P' : v.utf8String !== undefined ? 'U' : v.ia5String ? 'I' : '?';
      return `${atv.type}:${kind}:${v.toString()}`;
    }),
  );
}

describe('parseDistinguishedName', () => {
  it('encodes the RDNs in reverse string order, like Alibaba’s CreateCertificate CSR for the same subject', () => {
    // Alibaba's sample CSR subject starts `SET{C=CN} SET{ST=Zhejiang (PrintableString)}` (KMS CreateCertificate doc).
    const name = parseDistinguishedName('CN=userName,OU=kms,O=aliyun,ST=Zhejiang,C=CN');
    expect(der(name)).toContain('310b300906035504061302434e3111300f060355040813085a68656a69616e67');
    expect(describeName(name)).toEqual([
      '2.5.4.6:P:CN',
      '2.5.4.8:P:Zhejiang',
      '2.5.4.10:P:aliyun',
      '2.5.4.11:P:kms',
      '2.5.4.3:P:userName',
    ]);
  });

  it('unescapes \\, and tolerates spaces after separators', () => {
    const name = parseDistinguishedName('CN=Example\\, Inc.,  O = ACME ,C=CN');
    expect(describeName(name)).toEqual(['2.5.4.6:P:CN', '2.5.4.10:P:ACME', '2.5.4.3:P:Example, Inc.']);
  });

  it('decodes \\hh escapes as UTF-8 and uses UTF8String for text PrintableString cannot hold', () => {
    const name = parseDistinguishedName('CN=\\E4\\B8\\AD\\E6\\96\\87,O=a_b@c,L=北京');
    expect(describeName(name)).toEqual(['2.5.4.7:U:北京', '2.5.4.10:U:a_b@c', '2.5.4.3:U:中文']);
  });

  it('keeps an escaped trailing space and drops unescaped ones', () => {
    expect(describeName(parseDistinguishedName('CN=a\\ '))).toEqual(['2.5.4.3:P:a ']);
    expect(describeName(parseDistinguishedName('CN=a   '))).toEqual(['2.5.4.3:P:a']);
  });

  it('encodes E and emailAddress as an IA5String PKCS#9 emailAddress, case-insensitively', () => {
    expect(describeName(parseDistinguishedName('e=ops@example.com,emailAddress=x@y.cn'))).toEqual([
      '1.2.840.113549.1.9.1:I:x@y.cn',
      '1.2.840.113549.1.9.1:I:ops@example.com',
    ]);
  });

  it('builds a multi-valued RDN from + and orders its members by their DER', () => {
    const name = parseDistinguishedName('OU=b+CN=a,C=CN');
    expect(name).toHaveLength(2);
    expect(name[1]).toHaveLength(2);
    expect(describeName(name)).toEqual(['2.5.4.6:P:CN', '2.5.4.3:P:a', '2.5.4.11:P:b']);
  });

  it('returns the empty name for an empty string', () => {
    expect(parseDistinguishedName('')).toHaveLength(0);
    expect(parseDistinguishedName('   ')).toHaveLength(0);
  });

  it.each([
    ['an unknown attribute type', 'CN=a,XX=b'],
    ['a missing =', 'CN=a,O'],
    ['a trailing comma', 'CN=a,'],
    ['an empty value', 'CN=,O=b'],
    ['a three-letter country', 'CN=a,C=CHN'],
    ['a non-ASCII email', 'E=用户@example.com'],
    ['an unescaped double quote', 'CN=say "hi"'],
    ['an unescaped semicolon', 'CN=a;O=b'],
    ['a #hex value', 'CN=#0c0161'],
    ['an invalid escape', 'CN=a\\q'],
    ['escaped bytes that are not UTF-8', 'CN=\\ff\\fe'],
    ['a CN longer than 64 characters', `CN=${'x'.repeat(65)}`],
  ])('rejects %s', (_name, dn) => {
    expect(() => parseDistinguishedName(dn)).toThrow(EncodingError);
  });
});

describe('formatName', () => {
  it.each([
    'CN=userName,OU=kms,O=aliyun,C=CN',
    'CN=Example\\, Inc.,O=a\\+b\\\\c,C=CN',
    'CN=\\#hash\\ ,O=\\ lead',
    'CN=中文,E=ops@example.com',
    'CN=a+OU=b,C=CN',
  ])('gives back the canonical string %s', (dn) => {
    expect(formatName(parseDistinguishedName(dn))).toBe(dn);
  });

  it('prints unknown attribute types as dotted OIDs with #hex DER values (RFC 4514 §2.4)', () => {
    const serial = new AttributeTypeAndValue({ type: '2.5.4.5', value: new AttributeValue({ printableString: '42' }) });
    const other = new AttributeTypeAndValue({
      type: '1.2.3.4',
      value: new AttributeValue({ anyValue: new Uint8Array([0x02, 0x01, 0x05]).buffer }),
    });
    const name = new Name([new RelativeDistinguishedName([other]), new RelativeDistinguishedName([serial])]);
    expect(formatName(name)).toBe('2.5.4.5=42,1.2.3.4=#020105');
  });
});
