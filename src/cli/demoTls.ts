import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Config } from '../config/schema';
import { demoIdentityLines, type DemoInfo } from './demo';
import { createPrivateCa, issueCertificate } from './tlsMaterial';

/** The demo's TLS files: a private CA and a server certificate it issued (key 0600). */
export interface DemoTlsFiles {
  readonly dir: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/**
 * Creates, once, a demo CA and a server certificate for localhost, 127.0.0.1 and `host` under `<home>/tls/`.
 * Demo only: the CA key stays in the demo home, where anyone who can read it can mint server certificates.
 */
export async function ensureDemoTls(home: string, host?: string): Promise<DemoTlsFiles> {
  const dir = join(home, 'tls');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files = {
    dir,
    caFile: join(dir, 'ca.crt'),
    certFile: join(dir, 'server.crt'),
    keyFile: join(dir, 'server.key'),
  };
  if (existsSync(files.caFile) && existsSync(files.certFile) && existsSync(files.keyFile)) return files;
  const ca = await createPrivateCa('CN=p11bridge demo CA,O=p11bridge demo');
  const names = ['localhost', '127.0.0.1'];
  if (host && host !== '0.0.0.0' && host !== '::' && !names.includes(host)) names.push(host);
  const server = await issueCertificate(ca, {
    subject: `CN=${names.find((n) => isIP(n) === 0) ?? 'localhost'},O=p11bridge demo`,
    names,
    usage: 'server',
  });
  writeFileSync(join(dir, 'ca.key'), ca.keyPem, { mode: 0o600 });
  writeFileSync(files.caFile, ca.certificatePem, { mode: 0o644 });
  writeFileSync(files.certFile, server.certificatePem + ca.certificatePem, { mode: 0o644 });
  writeFileSync(files.keyFile, server.keyPem, { mode: 0o600 });
  return files;
}

/** The demo config with `server.tls` pointing at the demo files. */
export function withDemoTls(config: Config, files: DemoTlsFiles): Config {
  return {
    ...config,
    server: {
      ...config.server,
      tls: {
        certFile: files.certFile,
        keyFile: { file: files.keyFile },
        requireClientCert: false,
        minVersion: 'TLSv1.2',
      },
    },
  };
}

/** The `npm start -- --tls` banner: the HTTPS endpoint and how each official SDK trusts the demo CA. */
export function demoTlsBanner(info: DemoInfo, files: DemoTlsFiles): string {
  const first = info.certificates.find((c) => c.keySpec.startsWith('RSA')) ?? info.certificates[0];
  const ca = files.caFile;
  return [
    '',
    `p11bridge is serving the Alibaba Cloud KMS (2016-01-20) and CAS (2020-04-07) signing APIs on https://${info.endpoint}/`,
    `  TLS: server certificate ${files.certFile}, issued by the demo CA ${ca}`,
    '',
    ...demoIdentityLines(info),
    '',
    '  Trust the demo CA in the client (never turn verification off):',
    '  - @alicloud/cas20200407 3.x / @alicloud/openapi-core, and the 1.x generators on @alicloud/openapi-client:',
    "      const Cas = require('@alicloud/cas20200407');",
    "      const { Config } = require('@alicloud/openapi-core');",
    `      const ca = require('fs').readFileSync('${ca}', 'utf8');`,
    `      const client = new Cas.default(new Config({ accessKeyId: '${info.accessKeyId}', accessKeySecret: '<secret above>', endpoint: '${info.endpoint}', protocol: 'https', ca }));`,
    `      const r = await client.sign(new Cas.SignRequest({ certIdentifier: '${first?.id ?? '<id>'}', message: 'hello', messageType: 'RAW', signingAlgorithm: 'SHA256withRSA' }));`,
    '    (for mTLS add `cert` and `key`: the client certificate and its key, as PEM strings)',
    '  - @alicloud/pop-core (V1): pass an agent that trusts the CA:',
    `      const agent = new (require('https').Agent)({ ca, keepAlive: true });`,
    `      await new RPCClient({ accessKeyId, accessKeySecret, endpoint: 'https://${info.endpoint}', apiVersion: '2016-01-20' })`,
    "        .request('CertificatePrivateKeySign', { ... }, { method: 'POST', agent });",
    `  - any Node.js client, without code changes: NODE_EXTRA_CA_CERTS=${ca} node app.js`,
    '',
    '  npx p11bridge reload     re-reads the config, access keys and TLS files without a restart (or: kill -HUP <pid>)',
    '',
  ].join('\n');
}
