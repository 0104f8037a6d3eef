import type * as pkcs11 from 'pkcs11js';
import type { SignatureAlgorithm, Sm2Profile } from '../crypto/algorithms';
import { encodeSignature, planSignature, type SignSubject } from '../crypto/signPlan';
import { sm2PublicPointOfSpki } from '../crypto/sm2';
import { KeyNotFoundFault } from './faults';
import type { KeyEntry } from './keyIndex';
import type { KnownCapabilities } from './knownCapabilities';
import type { RecoveryLadder } from './recoveryLadder';
import type { TokenIndex } from './tokenIndex';
import type { TokenSessions } from './tokenSessions';
import type { TokenStatus } from './tokenState';

/** Where `sign`/`decrypt` find the key: a certificate identity by identifier, or a key pair by CKA_LABEL. */
export type KeySource = 'identity' | 'keyPair';

/**
 * The token's signer and decryptor: finds the key in the index, runs the private-key operation on a pooled
 * session, and answers a fault with its rung of the ladder (a stale handle or a lost login are retried once).
 * The caller gets the token's own error; the API layer answers it (src/api/lowerFloorErrors.ts).
 */
export class PrivateKeyOps {
  readonly #status: TokenStatus;
  readonly #index: TokenIndex;
  readonly #sessions: TokenSessions;
  readonly #caps: KnownCapabilities;
  readonly #ladder: RecoveryLadder;
  readonly #sm2: Sm2Profile | undefined;

  constructor(
    status: TokenStatus,
    index: TokenIndex,
    sessions: TokenSessions,
    caps: KnownCapabilities,
    ladder: RecoveryLadder,
    sm2: Sm2Profile | undefined,
  ) {
    this.#status = status;
    this.#index = index;
    this.#sessions = sessions;
    this.#caps = caps;
    this.#ladder = ladder;
    this.#sm2 = sm2;
  }

  /**
   * Signs with the private key of `id`. The token does the private-key operation (C_SignInit + C_Sign in one
   * PKCS#11 thread call); the input is prepared by the algorithm table.
   */
  sign(id: string, alg: SignatureAlgorithm, subject: SignSubject, from: KeySource): Promise<Buffer> {
    return this.#privateKeyOp(id, from, async (entry) => {
      const profile = this.#sm2;
      // SM2: e depends on the signer's public key (Z_A), so the plan needs it.
      const sm2Profile = alg.profileOn(profile);
      const sm2 = sm2Profile ? { profile: sm2Profile, publicPoint: sm2PublicPointOfSpki(entry.spki) } : undefined;
      const plan = planSignature(alg, subject, this.#caps.current.mechanisms, sm2);
      const raw = await this.#sessions.withSession((session, lib) =>
        lib.sign(session, plan.mechanism, entry.privateKey, plan.data, entry.signatureLength),
      );
      return encodeSignature(alg, raw, profile?.signatureFormat);
    });
  }

  /**
   * Decrypts with the private key of `id`, in the token (RSA OAEP or SM2 as the algorithm table specifies). The
   * plaintext is at most `maxOutput` bytes: the modulus length for RSA (the default), less than the ciphertext for SM2.
   */
  decrypt(
    id: string,
    mechanism: pkcs11.Mechanism,
    ciphertext: Buffer,
    maxOutput: number | undefined,
    from: KeySource,
  ): Promise<Buffer> {
    return this.#privateKeyOp(id, from, (entry) =>
      this.#sessions.withSession((session, lib) =>
        lib.decrypt(session, mechanism, entry.privateKey, ciphertext, maxOutput ?? entry.signatureLength),
      ),
    );
  }

  /**
   * A private-key operation with the token's rungs of the ladder: a stale handle re-reads the index and a lost
   * login logs in again (each then retried once); a device fault starts the module's re-initialisation; a call past
   * its deadline makes the token unavailable until it answers. The caller gets the token's error at once (a PKCS#11
   * error, a TokenFault, a KeyNotFoundFault or the planner's PlanError).
   */
  async #privateKeyOp<T>(id: string, from: KeySource, op: (entry: KeyEntry) => Promise<T>): Promise<T> {
    const attempt = (): Promise<T> => {
      this.#status.assertServing();
      const entry = from === 'keyPair' ? this.#index.keyPair(id) : this.#index.get(id);
      if (!entry) throw new KeyNotFoundFault(id);
      return op(entry);
    };
    try {
      return await attempt();
    } catch (e) {
      if (e instanceof KeyNotFoundFault) throw e;
      const retry = await this.#ladder.onFault(e);
      if (!retry) throw e;
      try {
        return await attempt();
      } catch (e2) {
        if (!(e2 instanceof KeyNotFoundFault)) await this.#ladder.onFault(e2, false);
        throw e2;
      }
    }
  }
}
