import { randomBytes } from 'node:crypto';
import { EncodingError } from '../../../src/crypto/encodingError';
import { pemDecodeAll, pemEncode } from '../../../src/crypto/pem';

describe('pemEncode', () => {
  it('writes base64 in 64-character lines between BEGIN and END lines', () => {
    const der = randomBytes(60); // 80 base64 characters: one full line and 16 more
    const pem = pemEncode('CERTIFICATE', der);
    const lines = pem.split('\n');
    expect(lines[0]).toBe('-----BEGIN CERTIFICATE-----');
    expect(lines[1]).toHaveLength(64);
    expect(lines[2]).toHaveLength(16);
    expect(lines[3]).toBe('-----END CERTIFICATE-----');
    expect(lines[4]).toBe('');
  });

  it('rejects a label containing a dash', () => {
    expect(() => pemEncode('BAD-LABEL', randomBytes(4))).toThrow(EncodingError);
  });
});

describe('pemDecodeAll', () => {
  it('decodes every block of a chain in order, ignoring text between blocks and CRLF line ends', () => {
    const a = randomBytes(70);
    const b = randomBytes(3);
    const pem = `subject=CN=leaf\r\n${pemEncode('CERTIFICATE', a).replace(/\n/g, '\r\n')}\nissuer text\n${pemEncode('PUBLIC KEY', b)}`;
    const blocks = pemDecodeAll(pem);
    expect(blocks.map((block) => block.label)).toEqual(['CERTIFICATE', 'PUBLIC KEY']);
    expect(blocks[0]?.der.equals(a)).toBe(true);
    expect(blocks[1]?.der.equals(b)).toBe(true);
  });

  it('returns no blocks for text without PEM', () => {
    expect(pemDecodeAll('nothing here')).toEqual([]);
  });

  it.each([
    ['mismatched labels', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END PUBLIC KEY-----\n'],
    [
      'a BEGIN line without an END line',
      `${pemEncode('CERTIFICATE', randomBytes(8))}-----BEGIN CERTIFICATE-----\nAAAA\n`,
    ],
    ['characters outside base64', '-----BEGIN CERTIFICATE-----\nAA*A\n-----END CERTIFICATE-----\n'],
    [
      'a legacy Proc-Type header',
      '-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END RSA PRIVATE KEY-----\n',
    ],
    ['an empty body', '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n'],
    ['bad padding', '-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n'],
  ])('rejects %s', (_name, pem) => {
    expect(() => pemDecodeAll(pem)).toThrow(EncodingError);
  });
});
