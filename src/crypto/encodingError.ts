/**
 * Thrown by `src/crypto` when bytes or strings handed to it are malformed (a non-DER signature, an unknown
 * curve, a bad distinguished name) or when a signer callback returns a signature that does not verify.
 * It carries no PKCS#11 detail: the operation layer decides whether it is the caller's fault
 * (`InvalidParameter`), a failed verification (`SignatureValid: false`) or an internal error.
 */
export class EncodingError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EncodingError';
  }
}
