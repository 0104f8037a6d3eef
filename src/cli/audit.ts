import { createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { auditFilesOf } from '../audit/files';
import { verifyAuditFiles, type ChainReport } from '../audit/verify';
import { loadConfigFile } from '../config/load';

const AUDIT_HELP = `p11bridge audit verify [--key PEM]... FILE [FILE...]
p11bridge audit verify --config FILE [--key PEM]...
  Verifies audit log files (docs/operations.md "Audit log"): the hash chain of every entry across the files
  (rotated files and the current one, in any order; one chain per cluster worker, one for operator commands) and
  every checkpoint signature. Names the first entry that fails (an edit, a deletion, a reordering, a truncation)
  and exits 1; reports the entries after the last checkpoint (the unsigned tail). --key: the audit public key (the
  daemon writes it as <audit.file>.key.pem); without it the key each checkpoint carries is trusted and its
  fingerprint printed. --config: every file of the config's audit log (the daemon's or each worker's, the
  operator commands' <name>-cli file, all rotated files), with the key pinned from audit.publicKeyFile.`;

/** The files and the key file of the config's audit log (`--config`): every chain it has, current and rotated. */
function configuredAudit(path: string): { files: string[]; keyFile: string | undefined } {
  const a = loadConfigFile(path).audit;
  if (!a) throw new Error(`${path} has no audit log (audit.file)`);
  const keyFile = a.publicKeyFile ?? `${a.file}.key.pem`;
  const files = auditFilesOf(a.file);
  if (files.length === 0) throw new Error(`no audit files next to ${a.file}`);
  return { files, keyFile: existsSync(keyFile) ? keyFile : undefined };
}

/** `p11bridge audit verify`: exit 0 when every chain verifies, 1 when one fails, 2 on a usage error. */
export async function auditCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      key: { type: 'string', multiple: true },
      config: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  const [sub, ...files] = positionals;
  if (values.help || sub !== 'verify' || (files.length === 0 && values.config === undefined)) {
    console.log(AUDIT_HELP);
    return values.help ? 0 : 2;
  }
  const keys = values.key ?? [];
  if (values.config !== undefined) {
    const found = configuredAudit(values.config);
    files.push(...found.files.filter((f) => !files.includes(f)));
    if (keys.length === 0 && found.keyFile) keys.push(found.keyFile);
  }
  let pinned: KeyObject[];
  try {
    pinned = keys.map((f) => createPublicKey(readFileSync(f, 'utf8')));
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
