import { constants, createHash, generateKeyPairSync, publicDecrypt, sign } from 'node:crypto';
import { digestInfo, type DigestInfoHash } from '../../../src/crypto/digestInfo';
import { EncodingError } from '../../../src/crypto/encodingError';

describe('digestInfo', () => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const message = Buffer.from('p11bridge DigestInfo check');

  it.each<DigestInfoHash>(['sha1', 'sha256', 'sha384', 'sha512'])(
    'equals the DigestInfo inside a node RSASSA-PKCS1-v1_5 %s signature',
    (hash) => {
      const signature = sign(hash, message, { key: privateKey, padding: constants.RSA_PKCS1_PADDING });
      // Undoing the private-key operation exposes exactly the encoded DigestInfo (RFC 8017 §9.2 step 2).
      const recovered = publicDecrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
      expect(digestInfo(hash, createHash(hash).update(message).digest()).toString('hex')).toBe(
        recovered.toString('hex'),
      );
    },
  );

  it('prefixes a SHA-256 digest with the RFC 8017 §9.2 note 1 bytes', () => {
    const digest = Buffer.alloc(32, 0xab);
    expect(digestInfo('sha256', digest).toString('hex')).toBe(
      `3031300d060960864801650304020105000420${digest.toString('hex')}`,
    );
  });

  it.each<[DigestInfoHash, number]>([
    ['sha256', 31],
    ['sha256', 48],
    ['sha1', 32],
    ['sha384', 32],
    ['sha512', 0],
  ])('rejects a %s digest of %i bytes', (hash, length) => {
    expect(() => digestInfo(hash, Buffer.alloc(length))).toThrow(EncodingError);
  });
});
