/**
 * The suite-wide leak check (issue 18: "no message content, PIN or secret appears in any log or audit file during
 * the whole e2e suite"). Helpers record, in the run's directory (globalSetup sets P11BRIDGE_LEAKCHECK_DIR):
 * the secrets they give a daemon (PINs, AccessKeySecrets), the message contents the e2e clients send
 * (test/helpers/recordContents.ts), and every daemon's log and audit files. globalTeardown then scans the files for
 * the recorded values (test/helpers/leakScan.ts) and fails the run on a hit.
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

/** The run's leak-check directory, or undefined outside a Jest run with the global setup. */
export function leakDir(): string | undefined {
  return process.env.P11BRIDGE_LEAKCHECK_DIR;
}

/** Values already recorded by this test file. */
const recorded = new Set<string>();

function record(kind: 'secret' | 'content', value: string): void {
  const dir = leakDir();
  if (!dir || value.length === 0 || recorded.has(value)) return;
  recorded.add(value);
  try {
    appendFileSync(join(dir, `${kind}s.${process.pid}.jsonl`), `${JSON.stringify(value)}\n`);
  } catch {
    // The run's directory is gone: a request a test left running after the global teardown; nothing to check.
  }
}

/** Records a secret (a PIN, an AccessKeySecret) that no log or audit file may contain. */
export function recordSecret(value: string): void {
  record('secret', value);
}

/** Records a message content (a Message, Digest or Plaintext a client sent) that no log or audit file may contain. */
export function recordContent(value: string): void {
  record('content', value);
}

/**
 * A fresh path under the run's directory for a daemon's log or audit file (scanned at the end of the run), or
 * undefined outside a run with the global setup.
 */
export function scannedFile(kind: 'logs' | 'audit', name: string): string | undefined {
  const dir = leakDir();
  if (!dir) return undefined;
  const sub = join(dir, kind, `${process.pid}-${randomUUID()}`);
  mkdirSync(sub, { recursive: true });
  return join(sub, name);
}

/** Records the secrets a config file references (`pin`, `secret` and `keyFile` as `{ file }` or `{ env }`). */
export function recordConfigSecrets(configFile: string, env: NodeJS.ProcessEnv = process.env): void {
  if (!leakDir()) return;
  const walk = (v: unknown, key: string): void => {
    if (Array.isArray(v)) v.forEach((x) => walk(x, key));
    else if (typeof v === 'object' && v !== null) {
      const o = v as Record<string, unknown>;
      if (['pin', 'secret', 'keyFile'].includes(key)) {
        try {
          if (typeof o.file === 'string') recordSecret(readFileSync(o.file, 'utf8').trim());
          if (typeof o.env === 'string') recordSecret(env[o.env] ?? '');
        } catch {
          // a secret file the test removes on purpose: nothing to record
        }
      }
      for (const [k, x] of Object.entries(o)) walk(x, k);
    }
  };
  walk(parse(readFileSync(configFile, 'utf8')) as unknown, '');
}
