/**
 * The demo's SM2 warehouse (`npm start -- --sm2`): a token of the SM2 test token (a PKCS#11 TEST DOUBLE for a
 * vendor SM2 HSM, softhsm/sm2-test-token) with an SM2 CA and an `EC_SM2` certificate issued by it, so that an SM2
 * application can be developed against p11bridge on a laptop. Its keys are plain files in the demo home.
 */
import { rmSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TokenConfig } from '../config/schema';
import { ensureDemoKeys } from '../identities/keys/demoKeys';
import type { ArnScope } from '../identities/keys/resolve';
import type { Logger } from '../observability/logger';
import { provisionSm2Pair } from '../identities/demoProvisioning';
import { TokenManager } from '../token/tokenManager';
import { createSm2TestTokenDir, isSm2TestModule, tassSampleProfile } from './sm2TestToken';

const DEMO_SM2_TOKEN_LABEL = 'p11bridge-demo-sm2';

/** The demo's SM2 token entry for the config (its warehouseId is chosen by the caller). */
export function demoSm2TokenEntry(module: string, pinFile: string): Record<string, unknown> {
  return {
    name: 'demo-sm2-test-double',
    module,
    tokenLabel: DEMO_SM2_TOKEN_LABEL,
    pin: { file: pinFile },
    // The test module's numbers are the TASS sample's (docs/hsm/sm2-tass.yaml), which the tests prove.
    sm2: tassSampleProfile(),
  };
}

/** The demo's SM2 token in a loaded config, if `--sm2` added it. */
export function demoSm2Token(tokens: readonly TokenConfig[]): TokenConfig | undefined {
  return tokens.find((t) => t.tokenLabel === DEMO_SM2_TOKEN_LABEL && isSm2TestModule(t.module));
}

/**
 * Makes sure the demo's SM2 token exists under `tokensDir` and holds its CA and `EC_SM2` leaf, provisioned inside
 * the token through the daemon's own code (src/identities/demoProvisioning.ts), and its `EC_SM2` KMS signing key
 * (created for `keys.creator`, the demo access key). A token left half-provisioned by an interrupted run is started
 * over. `P11BRIDGE_SM2TOKEN_DIR` must already name `tokensDir` (the module reads it at C_Initialize).
 */
export async function ensureDemoSm2Token(
  tokensDir: string,
  pin: string,
  tokenConfig: TokenConfig,
  log: Logger,
  keys: { readonly scope: ArnScope; readonly creator: string },
): Promise<void> {
  const tokenDir = createSm2TestTokenDir(tokensDir, DEMO_SM2_TOKEN_LABEL, pin);
  let token = new TokenManager(tokenConfig, log);
  await token.open();
  try {
    if (!token.entries().some((e) => !e.isCA && e.certificate)) {
      if (token.entries().length > 0) {
        await token.close();
        // The test double keeps one file per object: emptying the store starts the token over.
        rmSync(join(tokenDir, 'objects'), { recursive: true, force: true });
        mkdirSync(join(tokenDir, 'objects'), { mode: 0o700 });
        token = new TokenManager(tokenConfig, log);
        await token.open();
      }
      log.info('provisioning the SM2 test token (a test double): SM2 CA and EC_SM2 key generated inside it');
      await provisionSm2Pair(token, {
        caSubject: 'CN=p11bridge demo SM2 CA (test double),O=p11bridge demo,C=CN',
        leafSubject: 'CN=p11bridge demo EC_SM2 (test double),O=p11bridge demo,C=CN',
      });
    }
    // After the certificates: an SM2 home made before the demo had an EC_SM2 KMS key gets it on its next start.
    const created = await ensureDemoKeys(token, keys.scope, keys.creator);
    if (created.length > 0) log.info({ keyIds: created }, 'demo EC_SM2 KMS signing key generated inside the SM2 token');
  } finally {
    await token.close();
  }
}
