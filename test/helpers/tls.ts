import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateCa, issueCertificate, type IssuedCertificate } from '../../src/cli/tlsMaterial';

/** A private CA, a server certificate for 127.0.0.1/localhost, and a client certificate, written to `dir`. */
export interface TlsFiles {
  readonly ca: IssuedCertificate;
  readonly server: IssuedCertificate;
  readonly client: IssuedCertificate;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** `server.tls` for the config (client CA = the same private CA). */
  tlsConfig(extra?: Record<string, unknown>): Record<string, unknown>;
}

/** Writes a server certificate and key issued by `ca` (key 0600), for a first start or a rotation. */
export async function writeServerCertificate(
  ca: IssuedCertificate,
  dir: string,
  name: string,
): Promise<{ server: IssuedCertificate; certFile: string; keyFile: string }> {
  const server = await issueCertificate(ca, {
    subject: `CN=${name}`,
    names: ['localhost', '127.0.0.1'],
    usage: 'server',
  });
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  writeFileSync(certFile, server.certificatePem + ca.certificatePem);
  writeFileSync(keyFile, server.keyPem, { mode: 0o600 });
  return { server, certFile, keyFile };
}

export async function makeTlsFiles(dir: string): Promise<TlsFiles> {
  const ca = await createPrivateCa('CN=p11bridge test CA,O=p11bridge');
  const { server, certFile, keyFile } = await writeServerCertificate(ca, dir, 'server');
  const client = await issueCertificate(ca, { subject: 'CN=signing-client,O=p11bridge', usage: 'client' });
  const caFile = join(dir, 'ca.crt');
  writeFileSync(caFile, ca.certificatePem);
  return {
    ca,
    server,
    client,
    caFile,
    certFile,
    keyFile,
    tlsConfig: (extra = {}) => ({ certFile, keyFile: { file: keyFile }, ...extra }),
  };
}
