import pino from 'pino';
import { openCliAudit, type CliAudit, type CliChange } from '../audit/cliAudit';
import type { Config } from '../config/schema';
import { ApiError } from '../errors/apiError';
import { humanReadable, silentLogger, type Logger } from '../observability/logger';
import { TokenManager } from '../token/tokenManager';

/** A change before its outcome is known. */
type ChangeBase = Omit<CliChange, 'outcome' | 'reason'>;

/** What a lifecycle command records through (docs/decisions/0030-operator-commands-audit.md). */
export interface AuditedChanges {
  /**
   * Runs `run` and records it in the operator commands' audit chain: one entry per change `after` names (default:
   * `base` itself) when it succeeds, one with its failure's code when it throws (then rethrown).
   */
  change<T>(
    base: ChangeBase,
    run: () => Promise<T>,
    after?: (result: T) => ReadonlyArray<Partial<ChangeBase>>,
  ): Promise<T>;
}

/** Warnings and errors of the audit trail, for the operator at the terminal (stderr, one line each). */
function stderrLogger(): Logger {
  return pino({ level: 'warn' }, humanReadable(process.stderr));
}

function failureOf(e: unknown): { outcome: string; reason: string } {
  const message = e instanceof Error ? e.message : String(e);
  return { outcome: e instanceof ApiError ? e.code : 'Failed', reason: message.split('\n')[0] ?? '' };
}

/**
 * Runs `fn` with the audit trail of an operator command when the config has an audit log (`audit`), else with
 * changes that are only run. `token` is the token the command works on; the audit key's token (`audit.key.token`,
 * default the first) is opened as well when it is another one.
 */
export async function withCliAudit<T>(
  config: Config,
  token: TokenManager,
  fn: (audit: AuditedChanges) => Promise<T>,
): Promise<T> {
  const a = config.audit;
  if (!a) return fn({ change: (_base, run) => run() });
  const keyTokenConfig =
    a.key.token === undefined ? config.tokens[0] : config.tokens.find((t) => t.name === a.key.token);
  if (!keyTokenConfig) throw new Error(`audit.key.token: no token named "${a.key.token}"`);
  let keyToken = token;
  let opened: TokenManager | undefined;
  if (keyTokenConfig.name !== token.name) {
    opened = new TokenManager({ ...keyTokenConfig, indexRefreshMs: 0 }, silentLogger());
    await opened.open();
    keyToken = opened;
  }
  let audit: CliAudit | undefined;
  try {
    audit = await openCliAudit(a, keyToken, stderrLogger());
    const trail = audit;
    return await fn({
      async change(base, run, after) {
        let result: Awaited<ReturnType<typeof run>>;
        try {
          result = await run();
        } catch (e) {
          // The command's own failure is what the operator must see first; a failed audit write is added to it.
          await trail.record({ ...base, ...failureOf(e) }).catch((auditError: unknown) => {
            throw new Error(`${failureOf(e).reason}; ${failureOf(auditError).reason}`, { cause: e });
          });
          throw e;
        }
        for (const c of after ? after(result) : [{}]) await trail.record({ ...base, ...c, outcome: 'OK' });
        return result;
      },
    });
  } finally {
    await audit?.close();
    await opened?.close();
  }
}
