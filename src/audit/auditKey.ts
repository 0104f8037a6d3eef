import { randomBytes } from 'node:crypto';
import { certificateSigningAlgorithm, keySpecRow } from '../crypto/algorithms';
import type { Logger } from '../observability/logger';
import { generateKeyPair } from '../token/objects';
import type { TokenManager } from '../token/tokenManager';
import type { CheckpointSigner } from './auditChain';

/**
 * The audit key: an EC P-256 key pair generated in the token (sensitive, never extractable, sign only), found by
 * its CKA_LABEL. Its label contains a `/`, so the key index files it with the key pairs that are not certificate
 * identities (src/token/keyIndex.ts `isKeyPairLabel`): no API call can name it, and only checkpoints sign with it.
 */
export class AuditKey {
  readonly #token: TokenManager;
  readonly #label: string;
  readonly #log: Logger;
  /** This process creates the key when it is missing (the single process, or cluster worker 0). */
  readonly #creator: boolean;
  #ensuring: Promise<void> | undefined;
  #reported: string | undefined;

  constructor(token: TokenManager, label: string, log: Logger, creator: boolean) {
    this.#token = token;
    this.#label = label;
    this.#log = log;
    this.#creator = creator;
  }

  /**
   * Finds the key pair, or generates it when this process is the creator and it is not there (first start; with
   * cluster workers only worker 0 creates it, the others wait for it to appear in their index).
   * @throws Error when the token holds more than one key pair with the label (fail closed: an operator must choose)
   */
  async ensure(): Promise<void> {
    if (!this.#token.isReady()) return;
    if (this.#entry()) return;
    if (!this.#creator) return;
    await this.#token.refreshIndex();
    if (this.#entry()) return;
    const row = keySpecRow('EC_P256');
    if (!row) throw new Error('no EC_P256 key spec');
    await generateKeyPair(this.#token, row, this.#label, randomBytes(16), 'sign');
    // Sibling cluster workers re-read the index at once (they wait for this key).
    await this.#token.identityChanged(this.#label, { full: true });
    this.#log.info({ token: this.#token.name, label: this.#label }, 'audit key pair generated in the token');
  }

  /** The signer, while the token serves the key; undefined otherwise (checkpoints then wait). */
  signer(): CheckpointSigner | undefined {
    let entry;
    try {
      entry = this.#entry();
    } catch (e) {
      const why = (e as Error).message;
      if (this.#reported !== why) this.#log.error({ err: why }, 'audit checkpoints cannot be signed');
      this.#reported = why;
      return undefined;
    }
    if (!entry) {
      // Missing (a token that was not serving at start, or a sibling that has not created it yet): look again.
      if (!this.#ensuring)
        this.#ensuring = this.ensure()
          .catch((e: unknown) => this.#log.error({ err: (e as Error).message }, 'audit key pair could not be created'))
          .finally(() => {
            this.#ensuring = undefined;
          });
      return undefined;
    }
    const token = this.#token;
    const label = this.#label;
    return {
      spki: entry.spki,
      sign: (payload) =>
        token.sign(label, certificateSigningAlgorithm('EC'), { kind: 'message', data: payload }, 'keyPair'),
    };
  }

  #entry(): ReturnType<TokenManager['keyPair']> {
    if (!this.#token.isReady()) return undefined;
    const entry = this.#token.keyPair(this.#label);
    if (entry?.problem !== undefined) {
      throw new Error(`audit key "${this.#label}" on token ${this.#token.name} cannot be used: ${entry.problem}`);
    }
    if (entry && (entry.keyType !== 'EC' || !entry.canSign)) {
      throw new Error(`audit key "${this.#label}" on token ${this.#token.name} is not an EC signing key`);
    }
    return entry;
  }
}
