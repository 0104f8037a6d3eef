import type { AuditChain } from './auditChain';

/** A KMS key the background purge destroyed, or failed to (src/identities/keys/lifecycle.ts purgeExpiredKeys). */
export interface PurgeEvent {
  readonly token: string;
  readonly keyId: string;
  /** The key's versions whose key pairs the purge destroys. */
  readonly versions: readonly string[];
  /** Set when the purge failed part-way (the next sweep finishes it). */
  readonly error?: Error;
}

/**
 * The audit entry of a background purge (ScheduleKeyDeletion's window ended): a `lifecycle` entry written by the
 * process that purged, in its own chain (decision 0030), named `PurgeKey` with no caller (`source: purge`).
 */
export function purgeAuditor(chain: AuditChain): (e: PurgeEvent) => void {
  return (e) =>
    chain.append('lifecycle', {
      product: 'kms',
      action: 'PurgeKey',
      source: 'purge',
      token: e.token,
      identity: e.keyId,
      versions: e.versions,
      outcome: e.error ? 'Failed' : 'OK',
      reason: e.error?.message.split('\n')[0],
    });
}
