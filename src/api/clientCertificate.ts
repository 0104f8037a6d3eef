import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { ResolvedAccessKey } from './permissions';

/**
 * True when the request's connection is TLS with a client certificate the server verified (against
 * `server.tls.clientCaFile`) and that certificate is the one the access key is bound to: its SHA-256 fingerprint,
 * or its subject as an RFC 4514 string (`CN=client,O=Example`, what `openssl x509 -noout -subject -nameopt
 * RFC2253` prints).
 */
export function clientCertificateMatches(
  socket: Socket,
  binding: NonNullable<ResolvedAccessKey['clientCertificate']>,
): boolean {
  if (!(socket instanceof TLSSocket) || !socket.authorized) return false;
  const peer = socket.getPeerX509Certificate();
  if (!peer) return false;
  if ('sha256' in binding) return peer.fingerprint256.replace(/:/g, '').toUpperCase() === binding.sha256;
  // node prints the subject in certificate order, one attribute a line; RFC 4514 lists the last RDN first.
  const rfc4514 = peer.subject
    .split('\n')
    .filter((l) => l.length > 0)
    .reverse()
    .join(',');
  return rfc4514 === binding.subject.replace(/\s*,\s*/g, ',').trim();
}
