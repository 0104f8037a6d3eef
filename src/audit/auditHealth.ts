import type { AuditChain } from './auditChain';

/** The audit log's part of /readyz and of the metrics (docs/operations.md "Health" and "Metrics"). */
export interface AuditHealth {
  /** False while entries cannot be written (disk full, permission, a removed directory). */
  readonly ready: boolean;
  /** `audit.required`: private-key operations are refused while not ready, so the process is not ready either. */
  readonly required: boolean;
  /** Why not, for an operator: the errno code; never the file's path (/readyz is on the API port). */
  readonly reason?: string;
  /** Since when it has failed (ms since the epoch). */
  readonly since?: number;
  /** Failed write attempts since the process started (a failing file is retried every second). */
  readonly writeFailures: number;
}

/** The audit log's health, from the chain's memory (no file operation: /readyz stays fast on a hung disk). */
export function auditHealth(chain: AuditChain, required: boolean): AuditHealth {
  const { failure, writeFailures } = chain.writeState;
  if (!failure) return { ready: true, required, writeFailures };
  return {
    ready: false,
    required,
    reason: `audit entries cannot be written (${failure.code})`,
    since: failure.since,
    writeFailures,
  };
}
