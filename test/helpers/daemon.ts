import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { newAccessKey } from '../../src/cli/accessKeys';
import { validateConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { pemEncode } from '../../src/crypto/pem';
import { startDaemon, type RunningDaemon } from '../../src/server';
import type { TokenManager } from '../../src/token/tokenManager';
import { recordSecret, scannedFile } from './leakCheck';
import { createTestToken, openToken, provisionTestToken, type TestToken } from './token';

export interface TestCertificate {
  readonly id: string;
  readonly keySpec: string;
  readonly certificatePem: string;
  readonly chainPem: string;
}

export interface TestDaemon {
  readonly daemon: RunningDaemon;
  readonly token: TestToken;
  readonly config: Config;
  /** `127.0.0.1:<port>`: the SDKs' `endpoint` (with `protocol: 'http'`). */
  readonly endpoint: string;
  readonly port: number;
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  readonly certificates: readonly TestCertificate[];
  /** Every log line the daemon wrote (to check that no secret reaches the log). */
  readonly logText: () => string;
  stop(): Promise<void>;
}

export interface TestDaemonOptions {
  /** Extra access keys: each gets a generated id and secret (returned in `extraKeys`). */
  extraKeys?: Array<{ name: string; enabled?: boolean; actions?: string[]; certificates?: string[] }>;
  /** Changes to the config object before validation (cas, auth, server…). */
  configure?: (raw: Record<string, unknown>) => void;
  /** An injected clock for the gateway (ms since epoch). */
  now?: () => number;
  /** Extra work on the provisioned token before the daemon starts (more identities), before `configure` runs. */
  prepare?: (token: TokenManager) => Promise<void>;
  /** The background key purge's period and clock (src/identities/keys/purgeSweep.ts). */
  keyPurge?: { everyMs?: number; now?: () => Date };
}

/**
 * Starts the daemon on 127.0.0.1:0 against a fresh SoftHSM2 token provisioned with the demo key set
 * (CA, RSA-2048 and EC P-256 with certificates), as a real HTTP server.
 */
export async function startTestDaemon(
  opts: TestDaemonOptions = {},
): Promise<TestDaemon & { extraKeys: Record<string, { id: string; secret: string }> }> {
  const token = createTestToken();
  recordSecret(token.pin);
  recordSecret(token.soPin);
  await provisionTestToken(token);
  if (opts.prepare) {
    const tm = await openToken(token);
    try {
      await opts.prepare(tm);
    } finally {
      await tm.close();
    }
  }
  const main = newAccessKey();
  const secretFile = (name: string, secret: string): string => {
    recordSecret(secret);
    const f = join(token.dir, `ak-${name}`);
    writeFileSync(f, secret, { mode: 0o600 });
    return f;
  };
  const extraKeys: Record<string, { id: string; secret: string }> = {};
  const accessKeys: Array<Record<string, unknown>> = [
    { id: main.accessKeyId, secret: { file: secretFile('main', main.accessKeySecret) } },
  ];
  for (const k of opts.extraKeys ?? []) {
    const ak = newAccessKey();
    extraKeys[k.name] = { id: ak.accessKeyId, secret: ak.accessKeySecret };
    accessKeys.push({
      id: ak.accessKeyId,
      secret: { file: secretFile(k.name, ak.accessKeySecret) },
      enabled: k.enabled ?? true,
      actions: k.actions ?? ['*'],
      certificates: k.certificates ?? ['*'],
    });
  }
  const raw: Record<string, unknown> = {
    server: { host: '127.0.0.1', port: 0, shutdownTimeoutMs: 2000 },
    tokens: [{ ...token.tokenConfig, pin: { file: token.pinFile } }],
    auth: { accessKeys },
    logging: { level: 'info' },
  };
  // Every test daemon keeps an audit log where the suite's leak check reads it (a test may set its own).
  const auditFile = scannedFile('audit', 'audit.jsonl');
  if (auditFile) raw.audit = { file: auditFile };
  opts.configure?.(raw);
  const config = validateConfig(raw, {});
  const lines: string[] = [];
  // Also in a file, for the suite's leak check (test/helpers/leakCheck.ts).
  const logFile = scannedFile('logs', 'daemon.log');
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      if (logFile) appendFileSync(logFile, chunk);
      cb();
    },
  });
  const log = pino({ level: config.logging.level }, sink);
  const daemon = await startDaemon(config, log, {
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.keyPurge ? { keyPurge: opts.keyPurge } : {}),
  });
  const tm = daemon.tokens.tokens[0];
  const certificates: TestCertificate[] = (tm?.entries() ?? [])
    .filter((e) => e.certificate && !e.isCA)
    .map((e) => ({
      id: e.id,
      keySpec: e.keySpec ?? e.keyType,
      certificatePem: pemEncode('CERTIFICATE', (e.certificate as NonNullable<typeof e.certificate>).raw),
      chainPem: e.chain.map((c) => pemEncode('CERTIFICATE', c)).join(''),
    }));
  return {
    daemon,
    token,
    config,
    endpoint: `127.0.0.1:${daemon.port}`,
    port: daemon.port,
    accessKeyId: main.accessKeyId,
    accessKeySecret: main.accessKeySecret,
    certificates,
    extraKeys,
    logText: () => lines.join(''),
    async stop() {
      await daemon.stop();
      token.cleanup();
    },
  };
}
