import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { verifyAuditFiles, type ChainReport } from '../audit/verify';

const AUDIT_HELP = `p11bridge audit verify [--key PEM]... FILE [FILE...]
  Verifies audit log files (docs/operations.md "Audit log"): the hash chain of every entry across the files
  (rotated files and the current one, in any order; one chain per cluster worker) and every checkpoint signature.
  Names the first entry that fails (an edit, a deletion, a reordering, a truncation) and exits 1; reports the
  entries after the last checkpoint (the unsigned tail). --key: the audit public key (the daemon writes it as
  <audit.file>.key.pem); without it the key each checkpoint carries is trusted and its fingerprint printed.`;

/** `p11bridge audit verify`: exit 0 when every chain verifies, 1 when one fails, 2 on a usage error. */
export async function auditCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { key: { type: 'string', multiple: true }, help: { type: 'boolean' } },
  });
  const [sub, ...files] = positionals;
  if (values.help || sub !== 'verify' || files.length === 0) {
    console.log(AUDIT_HELP);
    return values.help ? 0 : 2;
  }
  let pinned: KeyObject[];
  try {
    pinned = (values.key ?? []).map((f) => createPublicKey(readFileSync(f, 'utf8')));
  } catch (e) {
    console.error(`--key: ${(e as Error).message}`);
    return 2;
  }
  const texts = files.map((name) => ({ name, text: readFileSync(name, 'utf8') }));
  const reports = verifyAuditFiles(texts, pinned);
  for (const r of reports) console.log(describe(r, pinned.length > 0));
  return reports.every((r) => r.failure === undefined) ? 0 : 1;
}

/** One chain's verdict for people: FAIL with the first problem, or OK with what was proven. */
function describe(r: ChainReport, pinned: boolean): string {
  const head = `chain ${r.chain} (${r.files.join(', ')})`;
  if (r.failure) return `FAIL ${head}\n  ${r.failure}`;
  const lines = [
    `OK ${head}: entries ${r.firstSeq}..${r.lastSeq}, ${r.checkpoints} checkpoints verified`,
    r.startsMidChain ? `  starts at seq ${r.firstSeq}: earlier files were not given` : undefined,
    r.keys.length > 0
      ? `  signed by ${r.keys.map((k) => `sha256:${k}`).join(', ')}${pinned ? ' (pinned)' : ' (the key the log carries: pin it with --key)'}`
      : undefined,
    r.unsignedTail > 0
      ? `  unsigned tail: ${r.unsignedTail} entries after seq ${Math.max(r.signedThrough, r.firstSeq - 1)} are chained but not signed by a checkpoint`
      : '  no unsigned tail',
  ];
  return lines.filter((l) => l !== undefined).join('\n');
}
