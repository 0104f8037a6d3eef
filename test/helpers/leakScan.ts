import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** What the scan looked at and what it found. */
export interface LeakReport {
  readonly files: number;
  readonly bytes: number;
  readonly secrets: number;
  readonly contents: number;
  /** `file: kind "value…"` for each recorded value found in a file. */
  readonly leaks: readonly string[];
}

/** Needles shorter than this are too likely to occur by chance (a 5-letter word); the recorder keeps longer ones. */
export const MIN_NEEDLE = 8;
const PROBE = MIN_NEEDLE;

/**
 * Scans every file under `<dir>/logs` and `<dir>/audit` for the values recorded in `<dir>/secrets.*.jsonl` and
 * `<dir>/contents.*.jsonl` (test/helpers/leakCheck.ts). One pass per file: needles are indexed by their first
 * {@link PROBE} characters and each position of the text is looked up once, so thousands of needles over
 * megabytes of logs take a second, not an hour.
 */
export function scanForLeaks(dir: string): LeakReport {
  const needles = new Map<string, Array<{ kind: string; value: string }>>();
  const counts = { secret: 0, content: 0 };
  for (const f of safeList(dir)) {
    const kind = f.startsWith('secrets.') ? 'secret' : f.startsWith('contents.') ? 'content' : undefined;
    if (!kind || !f.endsWith('.jsonl')) continue;
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (line === '') continue;
      const value = JSON.parse(line) as string;
      if (value.length < MIN_NEEDLE) continue;
      counts[kind]++;
      const key = value.slice(0, PROBE);
      const list = needles.get(key) ?? [];
      list.push({ kind, value });
      needles.set(key, list);
    }
  }
  const leaks: string[] = [];
  let files = 0;
  let bytes = 0;
  for (const sub of ['logs', 'audit']) {
    for (const file of walk(join(dir, sub))) {
      const text = readFileSync(file, 'utf8');
      files++;
      bytes += text.length;
      const found = new Set<string>();
      for (let i = 0; i + PROBE <= text.length; i++) {
        const list = needles.get(text.substr(i, PROBE));
        if (!list) continue;
        for (const n of list) {
          if (!found.has(n.value) && text.startsWith(n.value, i)) {
            found.add(n.value);
            leaks.push(`${file}: ${n.kind} "${n.value.slice(0, 12)}…"`);
          }
        }
      }
    }
  }
  return { files, bytes, secrets: counts.secret, contents: counts.content, leaks };
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function walk(dir: string): string[] {
  return safeList(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}
