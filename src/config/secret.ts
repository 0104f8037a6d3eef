import { readFileSync, statSync } from 'node:fs';
import { inspect } from 'node:util';

/**
 * A secret (PIN, AccessKeySecret) that cannot leak by accident: `String(s)`, `JSON.stringify(s)` and
 * `util.inspect(s)` all print `[redacted]`; only `reveal()` returns the value, and only the code that
 * hands it to the token or to an HMAC calls it.
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  /** The secret value. Call only where the value is consumed (C_Login, HMAC key). */
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '[redacted]';
  }
  toJSON(): string {
    return '[redacted]';
  }
  [inspect.custom](): string {
    return 'Secret([redacted])';
  }
}

/** Where a secret comes from: an environment variable or a file (first line, trailing newline stripped). */
export type SecretRef = { env: string } | { file: string };

/** Resolves a secret reference; the error names the reference, never the value. */
export function resolveSecret(ref: SecretRef, env: NodeJS.ProcessEnv = process.env): Secret {
  if ('env' in ref) {
    const v = env[ref.env];
    if (v === undefined || v === '') throw new Error(`secret environment variable ${ref.env} is not set`);
    return new Secret(v);
  }
  assertPrivateFile(ref.file);
  let text: string;
  try {
    text = readFileSync(ref.file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read secret file ${ref.file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const v = text.replace(/\r?\n$/, '');
  if (v === '') throw new Error(`secret file ${ref.file} is empty`);
  return new Secret(v);
}

/**
 * Refuses a secret file that group or others may read or write, as ssh refuses such a private key: the secret
 * has already leaked to every account on the host. The message says how to mend it.
 */
function assertPrivateFile(path: string): void {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (e) {
    throw new Error(`cannot read secret file ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if ((mode & 0o077) !== 0) {
    const shown = (mode & 0o777).toString(8).padStart(4, '0');
    throw new Error(`secret file ${path} is accessible by group or others (mode ${shown}); run: chmod 600 ${path}`);
  }
}
