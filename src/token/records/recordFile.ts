import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';

/** One record of a record file: its value and the MAC the token computed over it (recordMac.ts). */
export interface FileRecord {
  readonly application: string;
  readonly label: string;
  readonly value: Buffer;
  readonly mac: Buffer;
}

const FORMAT = 'p11bridge-records/1';

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64');

const fileSchema = z.strictObject({
  format: z.literal(FORMAT),
  /** Raised by every write; the token keeps the last one written (recordMac.ts): an older file is a rollback. */
  generation: z.number().int().min(0),
  /** The token's MAC over the generation and every record's application, label and MAC (fileMacInput). */
  mac: base64,
  records: z.array(z.strictObject({ application: z.string(), label: z.string(), value: base64, mac: base64 })),
});

/** A record file's whole state: its generation, the token's MAC over it, and its records. */
export interface RecordFileState {
  readonly generation: number;
  readonly mac: Buffer;
  readonly records: readonly FileRecord[];
}

/** A record file as read: its state (no file: generation 0, no records, no MAC), or damaged as a whole. */
export type RecordFileContent =
  ({ readonly kind: 'records' } & RecordFileState) | { readonly kind: 'damaged'; readonly reason: string };

/** Parses a record file's text (pure). */
export function parseRecordFile(text: string): RecordFileContent {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { kind: 'damaged', reason: 'not JSON' };
  }
  const r = fileSchema.safeParse(json);
  if (!r.success) return { kind: 'damaged', reason: `not a ${FORMAT} file` };
  return {
    kind: 'records',
    generation: r.data.generation,
    mac: Buffer.from(r.data.mac, 'base64'),
    records: r.data.records.map((x) => ({
      application: x.application,
      label: x.label,
      value: Buffer.from(x.value, 'base64'),
      mac: Buffer.from(x.mac, 'base64'),
    })),
  };
}

/** Serialises records (pure; one record a line, so an operator can read and diff the file). */
export function serializeRecordFile(state: RecordFileState): string {
  const lines = state.records.map((r) =>
    JSON.stringify({
      application: r.application,
      label: r.label,
      value: r.value.toString('base64'),
      mac: r.mac.toString('base64'),
    }),
  );
  const head = `"format":"${FORMAT}","generation":${state.generation},"mac":"${state.mac.toString('base64')}"`;
  return `{${head},"records":[\n${lines.join(',\n')}\n]}\n`;
}

/** Reads a record file; a file that does not exist yet holds no records. */
export async function readRecordFile(path: string): Promise<RecordFileContent> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      return { kind: 'records', generation: 0, mac: Buffer.alloc(0), records: [] };
    }
    return { kind: 'damaged', reason: `cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  return parseRecordFile(text);
}

/**
 * Replaces the record file atomically: a temporary file beside it (mode 0600), written and synced, then renamed over
 * it and the directory synced. A reader (another worker, the CLI) sees the old file or the new one, never half of
 * one; a crash leaves at worst a stray temporary file.
 */
export async function writeRecordFile(path: string, state: RecordFileState): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const f = await open(tmp, 'wx', 0o600);
  try {
    await f.writeFile(serializeRecordFile(state), 'utf8');
    await f.sync();
  } finally {
    await f.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
