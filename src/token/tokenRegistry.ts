import type { Config } from '../config/schema';
import type { Logger } from '../observability/logger';
import type { KeyEntry } from './keyIndex';
import { TokenManager } from './tokenManager';

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
  static fromConfig(config: Config, log: Logger): TokenRegistry {
    return new TokenRegistry(config.tokens.map((t) => new TokenManager(t, log)));
  }

  /** Opens every token; a token that fails to open fails the start (its error names the token). */
  async open(): Promise<void> {
    for (const t of this.tokens) await t.open();
  }

  /** Closes every token (in reverse order of opening). */
  async close(deadlineMs?: number): Promise<void> {
    for (const t of [...this.tokens].reverse()) await t.close(deadlineMs);
  }

  byWarehouse(id: number): TokenManager | undefined {
    return this.tokens.find((t) => t.warehouseId === id);
  }

  /** Finds a certificate identifier, optionally within one warehouse. */
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

  /** True when every token is logged in with a usable session. */
  isReady(): boolean {
    return this.tokens.every((t) => t.isReady());
  }
}
