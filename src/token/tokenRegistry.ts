import type { Config } from '../config/schema';
import type { Logger } from '../observability/logger';
import type { KeyEntry } from './keyIndex';
import type { LoginGate } from './loginGate';
import { TokenManager, type TokenManagerOptions } from './tokenManager';

/** A located certificate: the entry and the token (warehouse) that holds it. */
export interface Located {
  readonly token: TokenManager;
  readonly entry: KeyEntry;
}

/** Every configured token (one CAS warehouse each), and certificate lookup across them. */
export class TokenRegistry {
  readonly tokens: readonly TokenManager[];

  constructor(tokens: readonly TokenManager[]) {
    this.tokens = tokens;
  }

  /** Creates (but does not open) a manager per configured token. */
  static fromConfig(
    config: Config,
    log: Logger,
    opts: { loginGate?: LoginGate; onFatal?: TokenManagerOptions['onFatal'] } = {},
  ): TokenRegistry {
    return new TokenRegistry(config.tokens.map((t) => new TokenManager(t, log, opts)));
  }

  /**
   * Opens every token; a token that fails to open fails the start (its error names the token). With
   * `tolerateUnavailable` (the daemon), a token whose PIN is refused does not: it waits, unavailable, for the
   * operator (SIGHUP), so that a supervisor's restart loop never tries the PIN again and locks the account.
   */
  async open(opts: { tolerateUnavailable?: boolean } = {}): Promise<void> {
    for (const t of this.tokens) await t.open(opts);
  }

  /** SIGHUP: every token re-reads its PIN; tokens a refused PIN kept unavailable try once more. */
  async reload(): Promise<void> {
    await Promise.all(this.tokens.map((t) => t.reload()));
  }

  /** Closes every token (in reverse order of opening). */
  async close(deadlineMs?: number): Promise<void> {
    for (const t of [...this.tokens].reverse()) await t.close(deadlineMs);
  }

  byWarehouse(id: number): TokenManager | undefined {
    return this.tokens.find((t) => t.warehouseId === id);
  }

  /** Finds a certificate identifier, optionally within one warehouse (from memory: no token call). */
  locate(id: string, warehouseId?: number): Located | undefined {
    for (const token of this.tokens) {
      if (warehouseId !== undefined && token.warehouseId !== warehouseId) continue;
      const entry = token.lookup(id);
      if (entry) return { token, entry };
    }
    return undefined;
  }

  /** Finds by the CAS `CustomIdentifier` recorded in an entry's metadata. */
  locateCustom(customId: string, warehouseId?: number): Located | undefined {
    for (const token of this.tokens) {
      if (warehouseId !== undefined && token.warehouseId !== warehouseId) continue;
      const entry = token.entries().find((e) => e.metadata.customIdentifier === customId);
      if (entry) return { token, entry };
    }
    return undefined;
  }

  /** True when at least one token serves (the others are reported with their reason by /readyz). */
  isReady(): boolean {
    return this.tokens.some((t) => t.isReady());
  }
}
