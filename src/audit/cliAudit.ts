import { hostname, userInfo } from 'node:os';
import type { AuditConfig } from '../config/schema';
import type { Logger } from '../observability/logger';
import type { TokenManager } from '../token/tokenManager';
import { AuditChain } from './auditChain';
import { AuditKey } from './auditKey';
import { lockChainFile } from './chainLock';
import { chainOptionsOf } from './chainOptions';
import { cliAuditFile } from './files';
import { writeAuditPublicKey } from './publicKeyFile';

/** One lifecycle change an operator command made, or tried to make (docs/operations.md "Audit log"). */
export interface CliChange {
  /**
   * What changed, named as the API names the same change (`CreateCertificate`, `UpdateCertificateStatus`,
   * `DeleteCertificate`, `UploadCertificate`, `EnableKey`, `DisableKey`) or, without an API twin, `AdoptKey` and
   * `Provision`.
   */
  readonly action: string;
  /** The command line's words (`certs status`): which command did it. */
  readonly command: string;
  /** The certificate identifier or KeyId. */
  readonly identity?: string;
  readonly version?: string;
  /** Parameters worth recording (a status, a key spec): never free text or secrets. */
  readonly detail?: Readonly<Record<string, unknown>>;
  /** `OK`, or the failure's code (`Certificate.NotFound`, `Failed`). */
  readonly outcome: string;
  /** Why it failed, in one line (an operator's own command: the message it printed). */
  readonly reason?: string;
}

/** The audit trail of one operator command: its own chain, `<audit.file>-cli` (decision 0030). */
export interface CliAudit {
  /**
   * Appends the change and waits until it is written. With `audit.required` an entry that cannot be written
   * rejects (the command reports it and exits non-zero); otherwise the failure is logged and the command goes on.
   */
  record(change: CliChange): Promise<void>;
  /** A last checkpoint signed by the audit key, the file closed, the lock released. */
  close(): Promise<void>;
}

/** Who ran the command: the OS account (a container without a passwd entry has a uid only). */
function operator(): { user?: string; uid?: number; host: string } {
  try {
    const u = userInfo();
    return { user: u.username, uid: u.uid, host: hostname() };
  } catch {
    return { ...(process.getuid ? { uid: process.getuid() } : {}), host: hostname() };
  }
}

/**
 * Opens the operator commands' chain for this process: takes its lock (one command writes it at a time; a second
 * waits), finds or generates the audit key in `keyToken` (the token `audit.key.token` names), and continues the
 * chain with an `open` entry. Its checkpoints are signed by the same token key as the daemon's, so
 * `p11bridge audit verify` checks it like any other chain.
 * @throws Error when `audit.required` and the file cannot be opened, or another command holds the lock too long
 */
export async function openCliAudit(a: AuditConfig, keyToken: TokenManager, log: Logger): Promise<CliAudit> {
  const path = cliAuditFile(a.file);
  let release: () => void;
  try {
    release = await lockChainFile(path);
  } catch (e) {
    if (a.required) throw new Error(`the audit log ${path} cannot be written: ${(e as Error).message}`);
    // Not required: the command goes on, unaudited, and says so (a CLI process cannot keep entries for later).
    log.error(
      { file: path, err: (e as Error).message },
      'this command is not audited: its audit log cannot be written',
    );
    return { record: () => Promise.resolve(), close: () => Promise.resolve() };
  }
  let chain: AuditChain;
  try {
    // The CLI may create the key: `provision` often runs before the daemon ever started (decision 0030).
    const key = new AuditKey(keyToken, a.key.label, log, true);
    await key.ensure();
    const signer = key.signer();
    if (signer) writeAuditPublicKey(a, signer, log);
    chain = AuditChain.open(
      chainOptionsOf(a, { path, chain: 'cli' }, () => key.signer(), log),
      { required: a.required },
    );
  } catch (e) {
    release();
    throw e;
  }
  const who = operator();
  return {
    async record(change) {
      const { action, command, identity, version, detail, outcome, reason } = change;
      try {
        await chain.appendWritten('lifecycle', {
          product: 'cli',
          action,
          command,
          identity,
          version,
          ...(detail && Object.keys(detail).length > 0 ? { detail } : {}),
          operator: who,
          outcome,
          reason,
        });
      } catch (e) {
        if (a.required) throw new Error(`the audit entry of ${command} could not be written to ${path}`, { cause: e });
        log.error({ file: path, command }, 'the audit entry of this command could not be written');
      }
    },
    async close() {
      try {
        await chain.close(a.writeTimeoutMs);
      } finally {
        release();
      }
    },
  };
}
