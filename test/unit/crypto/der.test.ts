import { integerDer } from '../../../src/crypto/der';

const ab = (hex: string): ArrayBuffer => new Uint8Array(Buffer.from(hex, 'hex')).buffer;

describe('integerDer (CKA_SERIAL_NUMBER, PKCS#11 §4.6.3)', () => {
  it.each([
    ['a one-octet serial', '01', '020101'],
    ['a serial with its sign octet', '0080ff', '02030080ff'],
    ['a 20-octet serial (RFC 5280 §4.1.2.2 maximum)', '7f'.repeat(20), `0214${'7f'.repeat(20)}`],
    ['content of 200 octets, in the long length form', '11'.repeat(200), `0281c8${'11'.repeat(200)}`],
  ])('wraps %s as a complete INTEGER TLV', (_name, content, der) => {
    expect(integerDer(ab(content)).toString('hex')).toBe(der);
  });
});
