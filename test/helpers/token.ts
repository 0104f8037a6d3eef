import * as pkcs11 from 'pkcs11js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { deleteSoftHsmToken, initSoftHsmToken, SOFTHSM_MODULE, writeSoftHsmConf } from '../../src/cli/softhsm';
import type { TokenConfig } from '../../src/config/schema';
import { tokenSchema } from '../../src/config/schema';
import { silentLogger } from '../../src/observability/logger';
import { provisionDemo, type ProvisionedIdentity } from '../../src/identities/demoProvisioning';
import { TokenManager } from '../../src/token/tokenManager';

/** A throwaway SoftHSM2 token in its own temporary directory (the project's SoftHSM fixture). */
export interface TestToken {
  readonly dir: string;
  readonly conf: string;
  readonly label: string;
  readonly pin: string;
  readonly soPin: string;
  readonly pinFile: string;
  /** A validated token config for this token (warehouse 1 unless given). */
  readonly tokenConfig: TokenConfig;
  /** Deletes the token and the directory. Close every TokenManager on it first. */
  cleanup(): void;
}

/**
 * Creates a fresh token with a unique label in the run's token store (SOFTHSM2_CONF, set by globalSetup before
 * the workers start). SoftHSM2 sees tokens created by another process only after C_Finalize + C_Initialize, so
 * every TokenManager of the previous suite must be closed (finalised) before the next suite opens one.
 */
export function createTestToken(
  opts: { label?: string; warehouseId?: number; sessions?: number; overrides?: Record<string, unknown> } = {},
): TestToken {
  const dir = mkdtempSync(join(tmpdir(), 'p11bridge-test-'));
  const conf = process.env.SOFTHSM2_CONF ?? writeSoftHsmConf(dir);
  const label = opts.label ?? `test-${randomBytes(4).toString('hex')}`;
  const pin = randomBytes(8).toString('hex');
  const soPin = randomBytes(8).toString('hex');
  const pinFile = join(dir, 'user-pin');
  writeFileSync(pinFile, pin, { mode: 0o600 });
  initSoftHsmToken(conf, label, soPin, pin);
  const tokenConfig = tokenSchema.parse({
    warehouseId: opts.warehouseId ?? 1,
    name: label,
    module: SOFTHSM_MODULE,
    tokenLabel: label,
    pin: { file: pinFile },
    sessions: { size: opts.sessions ?? 4 },
    ...opts.overrides,
  });
  return {
    dir,
    conf,
    label,
    pin,
    soPin,
    pinFile,
    tokenConfig,
    cleanup: () => {
      deleteSoftHsmToken(conf, label);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Opens a TokenManager on a test token. */
export async function openToken(t: TestToken, overrides: Partial<TokenConfig> = {}): Promise<TokenManager> {
  const m = new TokenManager({ ...t.tokenConfig, ...overrides }, silentLogger());
  await m.open();
  return m;
}

/** Provisions the demo key set (CA, RSA-2048, EC P-256) into a test token, then closes it. */
export async function provisionTestToken(
  t: TestToken,
): Promise<{ ca: ProvisionedIdentity; leaves: ProvisionedIdentity[] }> {
  const m = await openToken(t);
  try {
    return await provisionDemo(m);
  } finally {
    await m.close();
  }
}

/**
 * Generates an EC P-256 key pair that is extractable and not sensitive, labelled and identified by `label`: what a
 * careless import leaves on a token, for tests of the daemon's refusal to serve such keys.
 */
export async function generateCarelessKeyPair(token: TokenManager, label: string): Promise<void> {
  await token.admin(async (session, lib) => {
    await lib.C_GenerateKeyPair(
      session,
      { mechanism: pkcs11.CKM_EC_KEY_PAIR_GEN },
      [
        { type: pkcs11.CKA_TOKEN, value: true },
        { type: pkcs11.CKA_LABEL, value: label },
        { type: pkcs11.CKA_ID, value: Buffer.from(label) },
        { type: pkcs11.CKA_EC_PARAMS, value: Buffer.from('06082a8648ce3d030107', 'hex') },
        { type: pkcs11.CKA_VERIFY, value: true },
      ],
      [
        { type: pkcs11.CKA_TOKEN, value: true },
        { type: pkcs11.CKA_PRIVATE, value: true },
        { type: pkcs11.CKA_LABEL, value: label },
        { type: pkcs11.CKA_ID, value: Buffer.from(label) },
        { type: pkcs11.CKA_SENSITIVE, value: false },
        { type: pkcs11.CKA_EXTRACTABLE, value: true },
        { type: pkcs11.CKA_SIGN, value: true },
      ],
    );
  });
}

/**
 * Changes the user PIN of a test token from another process (pkcs11js on SoftHSM2 in a child), as another
 * application or an HSM administrator does: this process's module, and any fault module in front of SoftHSM2 here,
 * are not involved (SoftHSM2 loaded twice in one process would share its state).
 */
export function changePinElsewhere(t: TestToken, oldPin: string, newPin: string): void {
  const script = `
    const pkcs11 = require('pkcs11js');
    const [module, label, oldPin, newPin] = process.argv.slice(1);
    const lib = new pkcs11.PKCS11();
    lib.load(module);
    lib.C_Initialize();
    try {
      const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === label);
      if (slot === undefined) throw new Error('no token labelled ' + label);
      const session = lib.C_OpenSession(slot, pkcs11.CKF_SERIAL_SESSION | pkcs11.CKF_RW_SESSION);
      lib.C_SetPIN(session, oldPin, newPin);
      lib.C_CloseSession(session);
    } finally {
      lib.C_Finalize();
    }`;
  execFileSync(process.execPath, ['-e', script, SOFTHSM_MODULE, t.label, oldPin, newPin], {
    env: { ...process.env, SOFTHSM2_CONF: t.conf },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

/**
 * The `tokens[]` entry of a daemon config file for a test token: warehouse 1, named and selected by its label, its
 * PIN file, two pooled sessions. `extra` adds keys or overrides these.
 */
export function daemonTokenEntry(t: TestToken, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    warehouseId: 1,
    name: t.label,
    tokenLabel: t.label,
    pin: { file: t.pinFile },
    sessions: { size: 2 },
    ...extra,
  };
}
