import type * as pkcs11 from 'pkcs11js';
import type { TokenConfig } from '../config/schema';
import type { RemoteLib } from './remoteLib';

/** The configured token is not among the module's slots. */
export class TokenNotFound extends Error {}

/** How the configuration names the token, for messages. */
export function tokenDisplayName(config: TokenConfig): string {
  return config.tokenLabel ?? `serial ${config.tokenSerial ?? '?'}`;
}

/** The slot holding the configured token (by serial and/or label); TokenNotFound when no slot has it. */
export async function findSlot(lib: RemoteLib, config: TokenConfig): Promise<pkcs11.Handle> {
  const slots = await lib.call<pkcs11.Handle[]>('C_GetSlotList', [true]);
  for (const slot of slots) {
    let info: pkcs11.TokenInfo;
    try {
      info = await lib.call<pkcs11.TokenInfo>('C_GetTokenInfo', [slot]);
    } catch {
      // A deleted SoftHSM2 token answers CKR_GENERAL_ERROR here (facts §7): skip it, keep scanning.
      continue;
    }
    if (config.tokenSerial !== undefined && info.serialNumber.trim() !== config.tokenSerial) continue;
    if (config.tokenLabel !== undefined && info.label.trim() !== config.tokenLabel) continue;
    return slot;
  }
  throw new TokenNotFound(`token "${tokenDisplayName(config)}" not found in module ${config.module}`);
}
