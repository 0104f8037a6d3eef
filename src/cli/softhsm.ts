import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The Debian SoftHSM2 module path. */
export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

const TEMPLATE = resolve(__dirname, '..', '..', 'softhsm', 'softhsm2.conf.template');

/** Writes `<dir>/softhsm2.conf` pointing at `<dir>/tokens`; returns the conf path. */
export function writeSoftHsmConf(dir: string): string {
  const tokens = join(dir, 'tokens');
  mkdirSync(tokens, { recursive: true, mode: 0o700 });
  const conf = join(dir, 'softhsm2.conf');
  if (!existsSync(conf)) {
    writeFileSync(conf, readFileSync(TEMPLATE, 'utf8').replace('@TOKENDIR@', tokens), { mode: 0o600 });
  }
  return conf;
}

/**
 * Creates a token in the first free slot with softhsm2-util. The PINs pass through argv of a short-lived
 * local process: acceptable for the demo and tests, not for real keys (use a real HSM's own tooling).
 */
export function initSoftHsmToken(conf: string, label: string, soPin: string, userPin: string): void {
  const r = spawnSync(
    'softhsm2-util',
    ['--init-token', '--free', '--label', label, '--so-pin', soPin, '--pin', userPin],
    { env: { ...process.env, SOFTHSM2_CONF: conf }, encoding: 'utf8' },
  );
  if (r.error) throw new Error(`softhsm2-util not available: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`softhsm2-util --init-token failed: ${(r.stderr || r.stdout).trim()}`);
}

/** Deletes a token by label (used to redo a half-provisioned demo token). */
export function deleteSoftHsmToken(conf: string, label: string): void {
  spawnSync('softhsm2-util', ['--delete-token', '--token', label], {
    env: { ...process.env, SOFTHSM2_CONF: conf },
    encoding: 'utf8',
  });
}

/** True when a token with this label exists in the store of `conf`. */
export function softHsmTokenExists(conf: string, label: string): boolean {
  const r = spawnSync('softhsm2-util', ['--show-slots'], {
    env: { ...process.env, SOFTHSM2_CONF: conf },
    encoding: 'utf8',
  });
  if (r.status !== 0) return false;
  return r.stdout.split('\n').some((l) => /^\s*Label:\s*/.test(l) && l.replace(/^\s*Label:\s*/, '').trim() === label);
}
