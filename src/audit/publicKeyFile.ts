import { writeFileSync } from 'node:fs';
import type { AuditConfig } from '../config/schema';
import { pemEncode } from '../crypto/pem';
import type { Logger } from '../observability/logger';
import type { CheckpointSigner } from './auditChain';
import { keyFingerprint } from './entry';

/**
 * Writes the audit public key as PEM (`audit.publicKeyFile`, default `<audit.file>.key.pem`) for offline
 * verification (`audit verify --key`). A file that cannot be written is a warning: the checkpoints carry the key too.
 */
export function writeAuditPublicKey(a: AuditConfig, signer: CheckpointSigner, log: Logger): void {
  try {
    writeFileSync(a.publicKeyFile ?? `${a.file}.key.pem`, pemEncode('PUBLIC KEY', signer.spki), { mode: 0o644 });
  } catch (e) {
    log.warn({ err: (e as Error).message }, 'audit public key file could not be written');
  }
  log.info({ key: keyFingerprint(signer.spki) }, 'audit key');
}
