/**
 * The SM2 test token (softhsm/sm2-test-token): a PKCS#11 TEST DOUBLE for a vendor SM2 HSM, built by globalSetup and
 * configured with the TASS sample profile of docs/hsm/sm2-tass.yaml (loaded from that file, so the documented
 * sample is what the tests prove). Plus the independent SM2 verifiers the suites check every signature with:
 * sm-crypto (its own SM2 and SM3, user ID 1234567812345678) and the `openssl` CLI with `distid:`.
 */
import { createHash, createPublicKey, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sm2 as smCrypto } from 'sm-crypto';
import { createSm2TestTokenDir, tassSampleProfile } from '../../src/cli/sm2TestToken';
import { tokenSchema, type TokenConfig } from '../../src/config/schema';
import { pemEncode } from '../../src/crypto/pem';
import { silentLogger } from '../../src/observability/logger';
import { provisionSm2Pair } from '../../src/identities/demoProvisioning';
import { TokenManager } from '../../src/token/tokenManager';
import { openssl, type Scratch } from './verify';

/** The test module's path (built by globalSetup); throws the build's error when it could not be built. */
function sm2TestModule(): string {
  const path = process.env.P11BRIDGE_SM2_TEST_MODULE;
  if (!path) {
    throw new Error(
      `the SM2 test token was not built: ${process.env.P11BRIDGE_SM2_TEST_MODULE_ERROR ?? 'globalSetup did not run'}`,
    );
  }
  return path;
}

/** The `sm2` section of docs/hsm/sm2-tass.yaml, as raw config (the numbers the test module implements). */
const tassProfile = tassSampleProfile;

export interface Sm2TestToken {
  readonly label: string;
  readonly pin: string;
  readonly pinFile: string;
  readonly dir: string;
  /** The token's entry for a raw config (what startTestDaemon's `configure` pushes into `tokens`). */
  readonly rawConfig: Record<string, unknown>;
  readonly tokenConfig: TokenConfig;
  cleanup(): void;
}

/**
 * A fresh token of the test module: a directory `<P11BRIDGE_SM2TOKEN_DIR>/<label>` with its `token.conf` (label,
 * serial, SHA-256 of the PIN: the module's whole PIN check). `sm2` overrides parts of the TASS profile.
 */
export function createSm2TestToken(
  opts: { label?: string; warehouseId?: number; sm2?: Record<string, unknown>; sessions?: number } = {},
): Sm2TestToken {
  const base = process.env.P11BRIDGE_SM2TOKEN_DIR;
  if (!base) throw new Error('P11BRIDGE_SM2TOKEN_DIR is not set (globalSetup did not run)');
  const module = sm2TestModule();
  const label = opts.label ?? `sm2-${randomBytes(4).toString('hex')}`;
  const pin = randomBytes(8).toString('hex');
  const dir = createSm2TestTokenDir(base, label, pin);
  const pinFile = join(dir, 'user-pin');
  writeFileSync(pinFile, pin, { mode: 0o600 });
  const rawConfig: Record<string, unknown> = {
    warehouseId: opts.warehouseId ?? 2,
    name: label,
    module,
    tokenLabel: label,
    pin: { file: pinFile },
    sessions: { size: opts.sessions ?? 4 },
    sm2: { ...tassProfile(), ...opts.sm2 },
  };
  return {
    label,
    pin,
    pinFile,
    dir,
    rawConfig,
    tokenConfig: tokenSchema.parse(rawConfig),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Opens a TokenManager on an SM2 test token. */
export async function openSm2Token(t: Sm2TestToken, overrides: Partial<TokenConfig> = {}): Promise<TokenManager> {
  const m = new TokenManager({ ...t.tokenConfig, ...overrides }, silentLogger());
  await m.open();
  return m;
}

const SM2_CA_SUBJECT = 'CN=p11bridge SM2 test CA,O=p11bridge,C=CN';

/**
 * Provisions an SM2 CA (self-signed, SM2-with-SM3) and an SM2 leaf that signs and decrypts, issued by that CA,
 * all generated and signed inside the test token through the daemon's own code (src/identities/demoProvisioning.ts, which
 * the demo's `--sm2` uses too); returns the identifiers.
 */
export async function provisionSm2TestToken(t: Sm2TestToken): Promise<{ ca: string; leaf: string; caPem: string }> {
  const m = await openSm2Token(t);
  try {
    const made = await provisionSm2Pair(m, {
      caSubject: SM2_CA_SUBJECT,
      leafSubject: 'CN=p11bridge SM2 test leaf,O=p11bridge,C=CN',
    });
    return { ca: made.ca.id, leaf: made.leaf.id, caPem: pemEncode('CERTIFICATE', made.caDer) };
  } finally {
    await m.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Independent SM2 verification.

/**
 * The SM2 public key of a PEM that is a certificate, or a `PUBLIC KEY` (what KMS GetPublicKey returns), as
 * node:crypto reads it. Every helper below takes either.
 */
function sm2PublicKey(pem: string): KeyObject {
  return pem.includes('BEGIN CERTIFICATE') ? new X509Certificate(pem).publicKey : createPublicKey(pem);
}

/** The uncompressed public point (hex, 04‖x‖y) of an SM2 certificate or public key, read by node:crypto. */
function sm2PublicHex(certificatePem: string): string {
  const spki = sm2PublicKey(certificatePem).export({ type: 'spki', format: 'der' });
  // SubjectPublicKeyInfo of a 256-bit EC key: the BIT STRING's last 65 bytes are the point.
  return spki.subarray(spki.length - 65).toString('hex');
}

/** sm-crypto's verification of a DER signature over `message` (it computes Z_A with `userId` and e itself). */
export function smCryptoVerify(certificatePem: string, message: Buffer, signature: Buffer, userId?: string): boolean {
  return smCrypto.doVerifySignature([...message], signature.toString('hex'), sm2PublicHex(certificatePem), {
    der: true,
    hash: true,
    ...(userId ? { userId } : {}),
  });
}

/** sm-crypto's verification of a DER signature over a given e (no hashing). */
export function smCryptoVerifyE(certificatePem: string, e: Buffer, signature: Buffer): boolean {
  return smCrypto.doVerifySignature([...e], signature.toString('hex'), sm2PublicHex(certificatePem), { der: true });
}

/**
 * e = SM3(Z_A ‖ M) for the certificate's key, written out here from GB/T 32918.2-2016 §5.5 and §6.1 (the
 * sm2p256v1 constants of GB/T 32918.5) as a client computes it for MessageType=DIGEST; independent of src/crypto.
 */
export function clientE(certificatePem: string, message: Buffer, userId = '1234567812345678'): Buffer {
  const id = Buffer.from(userId, 'utf8');
  const entl = Buffer.from([(id.length * 8) >> 8, (id.length * 8) & 0xff]);
  const curve = Buffer.from(
    'FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC' + // a
      '28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93' + // b
      '32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7' + // x_G
      'BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0', // y_G
    'hex',
  );
  const point = Buffer.from(sm2PublicHex(certificatePem), 'hex').subarray(1);
  const za = createHash('sm3')
    .update(Buffer.concat([entl, id, curve, point]))
    .digest();
  return createHash('sm3').update(za).update(message).digest();
}

/** `openssl pkeyutl -verify -rawin -digest sm3` over the message with `distid:` (OpenSSL's own default ID differs). */
export function opensslSm2Verify(
  scratch: Scratch,
  certificatePem: string,
  message: Buffer,
  signature: Buffer,
  userId = '1234567812345678',
): { status: number | null; output: string } {
  return openssl([
    'pkeyutl',
    '-verify',
    '-pubin',
    '-inkey',
    scratch.file(sm2PublicKey(certificatePem).export({ type: 'spki', format: 'pem' }), 'pem'),
    '-rawin',
    '-digest',
    'sm3',
    '-pkeyopt',
    `distid:${userId}`,
    '-in',
    scratch.file(message),
    '-sigfile',
    scratch.file(signature),
  ]);
}

/** `openssl pkeyutl -verify` of a signature over e itself (no hashing: the input is the value signed). */
export function opensslSm2VerifyE(
  scratch: Scratch,
  certificatePem: string,
  e: Buffer,
  signature: Buffer,
): { status: number | null; output: string } {
  return openssl([
    'pkeyutl',
    '-verify',
    '-pubin',
    '-inkey',
    scratch.file(sm2PublicKey(certificatePem).export({ type: 'spki', format: 'pem' }), 'pem'),
    '-in',
    scratch.file(e),
    '-sigfile',
    scratch.file(signature),
  ]);
}

/** `openssl pkeyutl -encrypt` with the certificate's SM2 key: a GM/T 0009 ASN.1 ciphertext made by OpenSSL. */
export function opensslSm2Encrypt(scratch: Scratch, certificatePem: string, plaintext: Buffer): Buffer {
  const out = join(scratch.dir, `sm2-${randomBytes(4).toString('hex')}.ct`);
  const r = openssl([
    'pkeyutl',
    '-encrypt',
    '-pubin',
    '-inkey',
    scratch.file(sm2PublicKey(certificatePem).export({ type: 'spki', format: 'pem' }), 'pem'),
    '-in',
    scratch.file(plaintext),
    '-out',
    out,
  ]);
  if (r.status !== 0) throw new Error(`openssl pkeyutl -encrypt failed: ${r.output}`);
  return readFileSync(out);
}
