/** The part of sm-crypto 0.3's API the tests use as an independent SM2 implementation (the package ships no types). */
declare module 'sm-crypto' {
  interface Sm2VerifyOptions {
    /** The signature is DER `SEQUENCE { r, s }` (otherwise hex r‖s). */
    der?: boolean;
    /** Compute e = SM3(Z_A ‖ M) from the message (otherwise the input is e itself). */
    hash?: boolean;
    /** The distinguishing ID for Z_A; default `1234567812345678`. */
    userId?: string;
  }
  export const sm2: {
    generateKeyPairHex(): { publicKey: string; privateKey: string };
    doSignature(
      msg: string | number[],
      privateKey: string,
      options?: Sm2VerifyOptions & { publicKey?: string },
    ): string;
    doVerifySignature(msg: string | number[], signHex: string, publicKey: string, options?: Sm2VerifyOptions): boolean;
    /** cipherMode 1 = C1C3C2 (default), 0 = C1C2C3; C1 without the 04 prefix; hex. */
    doEncrypt(msg: string | number[], publicKey: string, cipherMode?: number): string;
    doDecrypt(encryptData: string, privateKey: string, cipherMode: number, options: { output: 'array' }): number[];
  };
}
