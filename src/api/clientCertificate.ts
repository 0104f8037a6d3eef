import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { ResolvedAccessKey } from './permissions';

/**
 * True when the request's connection is TLS with a client certificate the server verified (against
 * `server.tls.clientCaFile`) and that certificate is the one the access key is bound to: its SHA-256 fingerprint,
 * or its subject as OpenSSL prints it one attribute per line (`CN=client\nO=Example`), compared with the
 * configured `CN=client,O=Example`.
 */
export function clientCertificateMatches(
  socket: Socket,
  binding: NonNullable<ResolvedAccessKey['clientCertificate']>,
): boolean {
  if (!(socket instanceof TLSSocket) || !socket.authorized) return false;
  const peer = socket.getPeerX509Certificate();
  if (!peer) return false;
  if ('sha256' in binding) return peer.fingerprint256.replace(/:/g, '').toUpperCase() === binding.sha256;
  return normaliseSubject(peer.subject) === normaliseSubject(binding.subject);
}

function normaliseSubject(s: string): string {
  return s
    .split(/[\n,]/)
    .map((p) => p.trim())
    .filter((p) => p.length > 0)
    .join(',');
}
