import { isDeepStrictEqual } from 'node:util';
import { resolveAccessKeys } from '../api/keyring';
import type { ResolvedAccessKey } from '../api/permissions';
import type { Config } from '../config/schema';
import { loadTlsMaterial, type TlsMaterial } from '../net/tlsOptions';

/** A reload that passed every check and can be swapped in at once. */
export interface PreparedReload {
  readonly config: Config;
  readonly keys: Map<string, ResolvedAccessKey>;
  /** The new TLS context (when TLS is on). */
  readonly tls: TlsMaterial | undefined;
  /** Changed settings a reload does not apply (they need a restart); logged as a warning. */
  readonly restartNeeded: string[];
}

/**
 * Everything a reload can fail on, done before anything is swapped: the access keys' secrets (files 0600), the
 * TLS certificate and key (read and proven to match). Throws an Error whose message is one line; the running
 * settings are then kept.
 *
 * Applied by a reload: `auth.accessKeys` (added, disabled, removed, permissions, rates, bindings), the TLS
 * certificate, key and client CA, `policy`, `cas`. Everything else is listed in `restartNeeded`.
 */
export function prepareReload(running: Config, next: Config): PreparedReload {
  const keys = resolveAccessKeys(next);
  const tls = next.server.tls ? loadTlsMaterial(next.server.tls) : undefined;
  return { config: next, keys, tls, restartNeeded: restartOnlyChanges(running, next) };
}

/** The dotted names of changed settings that only a restart applies. */
function restartOnlyChanges(a: Config, b: Config): string[] {
  const out: string[] = [];
  const { tls: tlsA, ...serverA } = a.server;
  const { tls: tlsB, ...serverB } = b.server;
  for (const k of Object.keys({ ...serverA, ...serverB }) as Array<keyof typeof serverA>) {
    if (!isDeepStrictEqual(serverA[k], serverB[k])) out.push(`server.${k}`);
  }
  if ((tlsA === undefined) !== (tlsB === undefined)) out.push('server.tls (turning TLS on or off)');
  else if (
    tlsA &&
    tlsB &&
    (tlsA.requireClientCert !== tlsB.requireClientCert ||
      (tlsA.clientCaFile === undefined) !== (tlsB.clientCaFile === undefined))
  )
    out.push('server.tls.requireClientCert / clientCaFile (asking for client certificates)');
  if (!isDeepStrictEqual(a.tokens, b.tokens)) out.push('tokens');
  for (const k of ['maxSkewSeconds', 'nonceTtlSeconds', 'nonceMaxEntries'] as const) {
    if (a.auth[k] !== b.auth[k]) out.push(`auth.${k}`);
  }
  // The store and its connection are made once, at the start (the keys' shared rates follow a reload).
  if (!isDeepStrictEqual(a.auth.replay, b.auth.replay)) out.push('auth.replay');
  if (!isDeepStrictEqual(a.logging, b.logging)) out.push('logging');
  return out;
}

/** The enabled access keys: how many keys share the replay window. */
export function sharingKeys(config: Config): number {
  return config.auth.accessKeys.filter((k) => k.enabled).length;
}

/** An error as the one line a refused reload prints. */
export function oneLine(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const lines = message
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  // "invalid configuration:" heads the list of problems: it reads as one sentence with the first of them.
  return lines.reduce((out, l, i) => (i === 0 ? l : `${out}${out.endsWith(':') ? ' ' : '; '}${l}`), '');
}
