import type { AuditConfig } from '../config/schema';
import type { Logger } from '../observability/logger';
import type { AuditChainOptions, CheckpointSigner } from './auditChain';

/**
 * The options of one chain from `audit` (durability, checkpoints, rotation): the same for the daemon's, each
 * worker's and the operator commands' chains, which differ only in their file and name.
 */
export function chainOptionsOf(
  a: AuditConfig,
  where: { path: string; chain: string },
  signer: () => CheckpointSigner | undefined,
  log: Logger,
): AuditChainOptions {
  return {
    path: where.path,
    chain: where.chain,
    durability: a.durability,
    writeTimeoutMs: a.writeTimeoutMs,
    checkpointEntries: a.checkpoint.entries,
    checkpointSeconds: a.checkpoint.seconds,
    rotateBytes: a.rotate.maxBytes,
    rotateAgeSeconds: a.rotate.maxAgeSeconds,
    signer,
    log,
  };
}
