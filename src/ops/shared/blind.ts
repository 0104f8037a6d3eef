import { blindSigningAlgorithm, type SignatureAlgorithm } from '../../crypto/algorithms';
import { rawRsaInput, rawRsaVerifies, rsaPublicNumbers } from '../../crypto/rawRsa';
import { ApiError, invalidParameter } from '../../errors/apiError';
import type { Located } from '../../token/tokenRegistry';
import { decodeBase64 } from './messages';
import { assertUsable } from './signing';

/**
 * CAS `Sign` with `MessageType=BLIND` (RSA blind signing, RFC 9474): `Message` is the Base64 blinded message m,
 * the answer is the raw RSA signature s = m^d mod n made in the token (CKM_RSA_X_509); the client unblinds it into
 * an ordinary RSA signature (PSS for RSABSSA, or PKCS#1 v1.5 if it encoded so).
 *
 * A raw RSA private-key operation signs anything the caller encodes and decrypts anything encrypted to the key, so
 * it is served only for a certificate listed in `cas.blindSigning.certificates` whose key may not decrypt
 * (docs/security.md, decision 0009). Each refusal names its reason.
 */
export async function signBlind(
  located: Located,
  alg: SignatureAlgorithm,
  message: string,
  allowed: readonly string[],
): Promise<Buffer> {
  const { entry, token } = located;
  if (alg.keyType !== 'RSA' || alg.encoding === 'cms') {
    throw invalidParameter(
      'SigningAlgorithm',
      'MessageType=BLIND is RSA blind signing: use SHA256withRSA/PSS or SHA256withRSA.',
    );
  }
  if (entry.keyType !== 'RSA') {
    throw invalidParameter(
      'MessageType',
      `BLIND needs a certificate with an RSA key; this one is ${entry.keySpec ?? entry.keyType}.`,
    );
  }
  if (!allowed.includes(entry.id)) {
    throw new ApiError(
      'UnsupportedOperation',
      'Blind signing is not enabled for this certificate (config cas.blindSigning.certificates).',
    );
  }
  if (entry.canDecrypt) {
    throw new ApiError(
      'UnsupportedOperation',
      'Blind signing is refused for a key that may decrypt: a raw RSA operation would decrypt for the caller.',
    );
  }
  assertUsable(entry);
  if (!entry.canSign) throw invalidParameter('MessageType', 'the key of this certificate is not allowed to sign.');
  const row = blindSigningAlgorithm();
  if (!token.supports(entry, row)) {
    throw new ApiError(
      'UnsupportedOperation',
      `The token behind warehouse ${token.warehouseId} offers no raw RSA operation (CKM_RSA_X_509) for blind signing.`,
    );
  }
  const blinded = decodeBase64('Message', message);
  const pub = rsaPublicNumbers(entry.publicKey);
  if (!pub) throw invalidParameter('MessageType', 'BLIND needs a certificate with an RSA key.');
  const input = rawRsaInput(pub, blinded);
  if (!input) {
    throw invalidParameter(
      'Message',
      `the blinded message must be an integer smaller than the ${pub.k * 8}-bit modulus.`,
    );
  }
  const signature = await token.sign(entry.id, row, { kind: 'message', data: input });
  if (!rawRsaVerifies(pub, input, signature)) {
    // Never hand out a faulty raw RSA result: it could reveal the private key (RFC 9474 §4.3 step 3).
    throw new ApiError('InternalError', undefined, {
      cause: new Error('the token returned a raw RSA result that does not verify'),
    });
  }
  return signature;
}
