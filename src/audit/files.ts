import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';

/**
 * Where each chain of one `audit.file` lives (decisions 0026 and 0030): `audit.file` for a single process,
 * `<name>-w<slot><ext>` for cluster worker `slot`, `<name>-cli<ext>` for operator commands; each rotated to
 * `<file>.<12-digit seq>` (tail.ts).
 */

function stemAndExt(file: string): { stem: string; ext: string } {
  const ext = extname(file);
  return { stem: file.slice(0, file.length - ext.length), ext };
}

/** The file of cluster worker `slot`'s chain, or `file` itself for a single process. */
export function workerAuditFile(file: string, slot: number | undefined): string {
  if (slot === undefined) return file;
  const { stem, ext } = stemAndExt(file);
  return `${stem}-w${slot}${ext}`;
}

/** The file of the operator commands' chain (`p11bridge certs|keys|provision`): `<name>-cli<ext>`. */
export function cliAuditFile(file: string): string {
  const { stem, ext } = stemAndExt(file);
  return `${stem}-cli${ext}`;
}

/**
 * Every audit file that belongs to `file`'s chains, current and rotated, that exists now: the single process's,
 * each cluster worker's and the operator commands'. Sorted by name (verification orders them by sequence anyway).
 */
export function auditFilesOf(file: string): string[] {
  const dir = dirname(file);
  if (!existsSync(dir)) return [];
  const { stem, ext } = stemAndExt(basename(file));
  const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`^${escape(stem)}(-w\\d+|-cli)?${escape(ext)}(\\.\\d{12})?$`);
  return readdirSync(dir)
    .filter((f) => pattern.test(f))
    .sort()
    .map((f) => join(dir, f));
}
