import type { AuditConfig, Config } from '../config/schema';
import type { Logger } from '../observability/logger';
import type { RequestObserver } from '../observability/requestOutcome';
import type { TokenRegistry } from '../token/tokenRegistry';
import { AuditChain } from './auditChain';
import { AuditKey } from './auditKey';
import { chainOptionsOf } from './chainOptions';
import { workerAuditFile } from './files';
import { writeAuditPublicKey } from './publicKeyFile';
import { requestAuditor } from './requestAudit';

/** The running audit log of one serving process. */
export interface AuditLog {
  /** The RPC handler's observer: entries for private-key operations, lifecycle changes and refusals. */
  readonly observer: RequestObserver;
  /** Records a configuration reload (applied, with the new config, or refused). */
  reloaded(outcome: { ok: true; restartNeeded: string[] } | { ok: false; message: string }, next?: Config): void;
  /** The chain (tests, the bench). */
  readonly chain: AuditChain;
  /** A last checkpoint, every entry written, the file closed. */
  close(deadlineMs?: number): Promise<void>;
}

/**
 * Opens the audit log of this process, when the config has one: finds (or, in the single process or worker 0,
 * generates) the audit key in the token, writes its public key as PEM for offline verification, and continues
 * the chain in the file.
 * @throws Error when `audit.required` and the file cannot be opened, or the audit key is ambiguous
 */
export async function startAuditLog(
  config: Config,
  tokens: TokenRegistry,
  log: Logger,
  opts: { slot?: number } = {},
): Promise<AuditLog | undefined> {
  const a: AuditConfig | undefined = config.audit;
  if (!a) return undefined;
  const token = a.key.token === undefined ? tokens.tokens[0] : tokens.tokens.find((t) => t.name === a.key.token);
  if (!token) throw new Error(`audit.key.token: no token named "${a.key.token}"`);
  const key = new AuditKey(token, a.key.label, log, opts.slot === undefined || opts.slot === 0);
  await key.ensure();
  const signer = key.signer();
  if (signer) writeAuditPublicKey(a, signer, log);
  const chain = AuditChain.open(
    chainOptionsOf(
      a,
      { path: workerAuditFile(a.file, opts.slot), chain: opts.slot === undefined ? 'main' : `w${opts.slot}` },
      () => key.signer(),
      log,
    ),
    { required: a.required },
  );
  let running = config;
  const observer = requestAuditor(chain, {
    required: a.required,
    rawMessageEncoding: () => running.cas.rawMessageEncoding,
    refusalsPerSecond: a.refusalsPerSecond,
    refusalBurst: a.refusalBurst,
  });
  return {
    observer,
    chain,
    reloaded(outcome, next) {
      if (outcome.ok && next) running = next;
      chain.append(
        'reload',
        outcome.ok
          ? { outcome: 'OK', restartNeeded: outcome.restartNeeded }
          : { outcome: 'Refused', reason: outcome.message },
      );
    },
    close: (deadlineMs) => chain.close(deadlineMs),
  };
}
