import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { Config } from '../config/schema';
import { resolveSecret } from '../config/secret';

/** `server.tls` once validated by the schema. */
export type TlsConfig = NonNullable<Config['server']['tls']>;

/** What the HTTPS server needs from `server.tls`: the context (swappable on reload) and the handshake rules. */
export interface TlsMaterial {
  readonly context: SecureContextOptions;
  /** Ask clients for a certificate (`clientCaFile` set). */
  readonly requestCert: boolean;
  /** Refuse a handshake without a valid client certificate (`requireClientCert`). */
  readonly rejectUnauthorized: boolean;
}

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/**
 * Reads the certificate chain, the private key (a secret reference: a key file readable by others is refused)
 * and the client CA, and proves they form a usable context (a key that does not match the certificate fails
 * here, with the file named, not at the first handshake). `where` names the setting in messages (`metrics.tls`).
 */
export function loadTlsMaterial(tls: TlsConfig, where = 'server.tls'): TlsMaterial {
  const cert = readPem(tls.certFile, `${where}.certFile`);
  const key = resolveSecret(tls.keyFile).reveal();
  const context: SecureContextOptions = {
    cert,
    key,
    minVersion: tls.minVersion,
    ...(tls.clientCaFile ? { ca: readPem(tls.clientCaFile, `${where}.clientCaFile`) } : {}),
  };
  try {
    createSecureContext(context);
  } catch (e) {
    // OpenSSL's reason (e.g. "key values mismatch"); never the key itself.
    throw new Error(`${where}: ${tls.certFile} and the key do not form a TLS context: ${(e as Error).message}`);
  }
  return {
    context,
    requestCert: tls.clientCaFile !== undefined,
    rejectUnauthorized: tls.requireClientCert,
  };
}
