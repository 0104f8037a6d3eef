import { createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';
import { checkpointPayload, GENESIS, keyFingerprint, lineHash } from './entry';

/** One audit file's text, with the name findings use. */
export interface AuditFileText {
  readonly name: string;
  readonly text: string;
}

/** The result of verifying one chain. */
export interface ChainReport {
  readonly chain: string;
  readonly files: readonly string[];
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly checkpoints: number;
  /** Sequence number the last valid checkpoint vouches for (0: none). */
  readonly signedThrough: number;
  /** Entries (other than checkpoints) after the last checkpoint's head: present, chained, but not yet signed. */
  readonly unsignedTail: number;
  /** Fingerprints of the keys that signed the checkpoints. */
  readonly keys: readonly string[];
  /** The chain's first entry is not the genesis: earlier files were not given. */
  readonly startsMidChain: boolean;
  /** The first problem, naming the file, line and sequence number; undefined when the chain verifies. */
  readonly failure: string | undefined;
}

interface Parsed {
  seq: number;
  type: string;
  prev: string;
  fields: Record<string, unknown>;
}

/** Hashes kept to check checkpoint heads (a checkpoint vouches for an entry a few hundred before it at most). */
const HEADS_KEPT = 200_000;

/**
 * Verifies audit files (docs/operations.md "Verifying"): groups them by chain, orders each chain's files by their
 * first sequence number, and walks every entry: consecutive sequence numbers (a gap is a deletion, a step back a
 * reordering), each `prev` equal to the hash of the line before it (an edit), and each checkpoint's signature over
 * the head it names. `pinned`: the only keys a checkpoint may be signed with; without, the key a checkpoint
 * carries is trusted and reported (a forger who rewrites the whole chain with a key of their own is caught only
 * by pinning the audit key).
 */
export function verifyAuditFiles(files: readonly AuditFileText[], pinned: readonly KeyObject[] = []): ChainReport[] {
  const pins = new Map(pinned.map((k) => [keyFingerprint(k.export({ type: 'spki', format: 'der' })), k]));
  const byChain = new Map<string, Array<{ file: AuditFileText; lines: string[]; firstSeq: number }>>();
  const reports: ChainReport[] = [];
  for (const file of files) {
    const lines = file.text.split('\n');
    const first = parse(lines[0] ?? '');
    const chain = first && typeof first.fields.chain === 'string' ? first.fields.chain : '?';
    const list = byChain.get(chain) ?? [];
    list.push({ file, lines, firstSeq: first?.seq ?? Number.MAX_SAFE_INTEGER });
    byChain.set(chain, list);
  }
  for (const [chain, list] of byChain) {
    list.sort((a, b) => a.firstSeq - b.firstSeq);
    reports.push(verifyChain(chain, list, pins));
  }
  return reports;
}

function verifyChain(
  chain: string,
  files: ReadonlyArray<{ file: AuditFileText; lines: string[] }>,
  pins: ReadonlyMap<string, KeyObject>,
): ChainReport {
  let expectedSeq: number | undefined;
  let prevHash: string | undefined;
  let firstSeq = 0;
  let lastSeq = 0;
  let checkpoints = 0;
  let signedThrough = 0;
  let startsMidChain = false;
  const keys = new Set<string>();
  const heads = new Map<number, string>();
  // Sequence numbers of the events (non-checkpoint entries) not yet vouched for by a checkpoint.
  let unsigned: number[] = [];
  let failure: string | undefined;
  outer: for (const { file, lines } of files) {
    // A file ends with a newline: the text after the last one must be empty, or the file was cut mid-entry.
    const complete = lines[lines.length - 1] === '';
    const count = complete ? lines.length - 1 : lines.length;
    for (let i = 0; i < count; i++) {
      const line = lines[i] as string;
      const where = `${file.name}:${i + 1}`;
      const e = parse(line);
      if (!e || (i === count - 1 && !complete)) {
        failure = `${where}: not a complete audit entry (the file was truncated or the line edited)`;
        break outer;
      }
      if (expectedSeq === undefined) {
        firstSeq = e.seq;
        startsMidChain = !(e.seq === 1 && e.prev === GENESIS);
      } else if (e.seq > expectedSeq) {
        const later = lines.indexOf(lines.find((l, j) => j > i && l.startsWith(`{"seq":${expectedSeq},`)) ?? '\0');
        if (later > i) {
          failure = `${where}: entry seq ${e.seq} comes before seq ${expectedSeq} (at line ${later + 1}): entries were reordered`;
          break outer;
        }
        failure = `${where}: entry seq ${e.seq} follows seq ${expectedSeq - 1}: ${e.seq - expectedSeq === 1 ? `entry ${expectedSeq} is` : `entries ${expectedSeq}..${e.seq - 1} are`} missing (deleted)`;
        break outer;
      } else if (e.seq < expectedSeq) {
        failure = `${where}: entry seq ${e.seq} comes after seq ${expectedSeq - 1}: entries were reordered or duplicated`;
        break outer;
      }
      if (prevHash !== undefined && e.prev !== prevHash) {
        failure = `${where}: entry seq ${e.seq} does not chain to the entry before it (seq ${e.seq - 1}): that entry, or this one's prev, was altered`;
        break outer;
      }
      const hash = lineHash(line);
      heads.set(e.seq, hash);
      if (heads.size > HEADS_KEPT) heads.delete(heads.keys().next().value as number);
      // A checkpoint for an entry before the first file given (a chain verified from the middle) proves nothing here.
      const before = typeof e.fields.headSeq === 'number' && e.fields.headSeq < firstSeq;
      if (e.type === 'checkpoint' && !before) {
        const problem = checkCheckpoint(chain, e, heads, pins);
        if (typeof problem === 'string') {
          failure = `${where}: checkpoint seq ${e.seq} ${problem}`;
          break outer;
        }
        keys.add(problem.key);
        checkpoints++;
        signedThrough = Math.max(signedThrough, problem.headSeq);
        unsigned = unsigned.filter((s) => s > signedThrough);
      } else if (e.type !== 'checkpoint') unsigned.push(e.seq);
      expectedSeq = e.seq + 1;
      prevHash = hash;
      lastSeq = e.seq;
    }
  }
  return {
    chain,
    files: files.map((f) => f.file.name),
    firstSeq,
    lastSeq,
    checkpoints,
    signedThrough,
    unsignedTail: unsigned.length,
    keys: [...keys],
    startsMidChain,
    failure,
  };
}

function checkCheckpoint(
  chain: string,
  e: Parsed,
  heads: ReadonlyMap<number, string>,
  pins: ReadonlyMap<string, KeyObject>,
): string | { key: string; headSeq: number } {
  const { headSeq, head, spki, signature, key } = e.fields;
  if (typeof headSeq !== 'number' || typeof head !== 'string' || typeof signature !== 'string') {
    return 'is malformed';
  }
  if (e.fields.chain !== chain) return `names chain "${String(e.fields.chain)}", not "${chain}"`;
  const seen = heads.get(headSeq);
  if (seen === undefined) return `vouches for seq ${headSeq}, which is not in the files given`;
  if (seen !== head) return `vouches for a different entry seq ${headSeq} than the one in the file (it was altered)`;
  let publicKey: KeyObject;
  let fingerprint: string;
  if (pins.size > 0) {
    const pinned = typeof key === 'string' ? pins.get(key) : undefined;
    if (!pinned) return `is signed by key ${String(key)}, not by the pinned audit key`;
    publicKey = pinned;
    fingerprint = key as string;
  } else {
    if (typeof spki !== 'string') return 'carries no public key (pin the audit key with --key)';
    const der = Buffer.from(spki, 'base64');
    fingerprint = keyFingerprint(der);
    if (key !== fingerprint) return 'names a key whose fingerprint does not match the public key it carries';
    try {
      publicKey = createPublicKey({ key: der, format: 'der', type: 'spki' });
    } catch {
      return 'carries an unreadable public key';
    }
  }
  const ok = verifySignature(
    'sha256',
    checkpointPayload(chain, headSeq, head),
    publicKey,
    Buffer.from(signature, 'base64'),
  );
  return ok ? { key: fingerprint, headSeq } : `signature does not verify with key ${fingerprint}`;
}

function parse(line: string): Parsed | undefined {
  if (!line.startsWith('{')) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const f = v as Record<string, unknown>;
  if (!Number.isSafeInteger(f.seq) || typeof f.type !== 'string' || typeof f.prev !== 'string') return undefined;
  return { seq: f.seq as number, type: f.type, prev: f.prev, fields: f };
}
