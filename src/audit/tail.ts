import { closeSync, existsSync, fstatSync, ftruncateSync, openSync, readSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { lineHash } from './entry';

/** Where a chain stopped: the last complete entry of its newest file. */
export interface ChainTail {
  readonly seq: number;
  readonly hash: string;
  /** Bytes of an incomplete last line that were cut off (a crash mid-write), if any. */
  readonly droppedBytes: number;
}

/** Longest line the tail reader expects (entries are a few hundred bytes; a checkpoint under 1 KiB). */
const TAIL_WINDOW = 1 << 20;

/** Rotated files are `<file>.<12-digit seq of their last entry>` (rotation.ts). */
export function rotatedName(path: string, lastSeq: number): string {
  return `${path}.${String(lastSeq).padStart(12, '0')}`;
}

/**
 * The tail of the chain written to `path` before this process: its last complete entry, from `path` or, when
 * `path` is absent (a crash between rotation's rename and the new file's first line), from its newest rotated
 * file. An incomplete last line in `path` (a write cut short by a crash) is truncated away and reported: its entry
 * never completed, and the chain continues from the entry before it. Undefined: a new chain.
 * @throws Error when the last complete line is not an entry (the file was damaged: an operator must look)
 */
export function readChainTail(path: string): ChainTail | undefined {
  if (existsSync(path)) return tailOf(path, true);
  const dir = dirname(path);
  const prefix = `${basename(path)}.`;
  if (!existsSync(dir)) return undefined;
  const rotated = readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && /^\d{12}$/.test(f.slice(prefix.length)))
    .sort();
  const newest = rotated[rotated.length - 1];
  return newest === undefined ? undefined : tailOf(join(dir, newest), false);
}

function tailOf(path: string, repair: boolean): ChainTail | undefined {
  const fd = openSync(path, repair ? 'r+' : 'r');
  try {
    const stat = fstatSync(fd);
    // A device (/dev/null, /dev/full) or an empty file: nothing to continue.
    if (!stat.isFile() || stat.size === 0) return undefined;
    const length = Math.min(stat.size, TAIL_WINDOW);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, stat.size - length);
    const text = buf.toString('utf8');
    let end = text.length;
    let dropped = 0;
    if (!text.endsWith('\n')) {
      const cut = text.lastIndexOf('\n') + 1;
      dropped = Buffer.byteLength(text.slice(cut));
      if (repair) ftruncateSync(fd, stat.size - dropped);
      end = cut;
      if (cut === 0) return stat.size === length ? undefined : fail(path, 'its last line is longer than 1 MiB');
    }
    const start = text.lastIndexOf('\n', end - 2) + 1;
    const line = text.slice(start, end - 1);
    if (start === 0 && stat.size > length) return fail(path, 'its last line is longer than 1 MiB');
    let seq: unknown;
    try {
      seq = (JSON.parse(line) as { seq?: unknown }).seq;
    } catch {
      seq = undefined;
    }
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq)) return fail(path, 'its last line is not an audit entry');
    return { seq, hash: lineHash(line), droppedBytes: dropped };
  } finally {
    closeSync(fd);
  }
}

function fail(path: string, why: string): never {
  throw new Error(`audit file ${path} cannot be continued: ${why} (verify it, move it away, and start again)`);
}
