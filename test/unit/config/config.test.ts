import { inspect } from 'node:util';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile, validateConfig } from '../../../src/config/load';
import { resolveSecret, Secret } from '../../../src/config/secret';

const minimal = () => ({
  tokens: [{ warehouseId: 1, name: 'demo', tokenLabel: 'demo', pin: { env: 'PIN' } }],
  auth: { accessKeys: [{ id: 'LTAI5tEXAMPLE', secret: { file: '/run/secrets/ak' } }] },
});

describe('config', () => {
  it('fills in defaults that serve the demo', () => {
    const c = validateConfig(minimal(), {});
    expect(c.server).toMatchObject({ host: '127.0.0.1', port: 8080, maxHeaderSize: 65536 });
    expect(c.tokens[0]).toMatchObject({
      module: '/usr/lib/softhsm/libsofthsm2.so',
      sessions: { size: 4, maxWaiting: 256, acquireTimeoutMs: 5000 },
      insecureKeys: 'refuse',
      warehouse: { qps: 100, quota: 1000 },
    });
    expect(c.auth).toMatchObject({ maxSkewSeconds: 900, nonceTtlSeconds: 1860, allowV1WithoutNonce: false });
    expect(c.auth.accessKeys[0]).toMatchObject({ enabled: true, actions: ['*'], certificates: ['*'] });
    expect(c.cas).toEqual({
      rawMessageEncoding: 'utf8',
      blindSigning: { certificates: [] },
      p7: { attached: false, includeChain: true },
    });
  });

  it('rejects an unknown key and names its path', () => {
    const raw = minimal() as Record<string, unknown>;
    (raw.tokens as Array<Record<string, unknown>>)[0]!.sesions = { size: 2 };
    expect(() => validateConfig(raw, {})).toThrow(/tokens\.0: Unrecognized key.*sesions/);
  });

  it('names the path of a value of the wrong type', () => {
    const raw = minimal() as Record<string, unknown>;
    (raw.tokens as Array<Record<string, unknown>>)[0]!.sessions = { size: 'four' };
    expect(() => validateConfig(raw, {})).toThrow(/tokens\.0\.sessions\.size: .*number/);
  });

  it('requires a token to be selected by label or serial, never by slot index', () => {
    const raw = minimal();
    delete (raw.tokens[0] as { tokenLabel?: string }).tokenLabel;
    expect(() => validateConfig(raw, {})).toThrow(/tokenLabel or tokenSerial/);
  });

  it('refuses a secret given inline instead of by env or file', () => {
    const raw = minimal() as unknown as { auth: { accessKeys: Array<Record<string, unknown>> } };
    raw.auth.accessKeys[0]!.secret = 'plaintext';
    expect(() => validateConfig(raw, {})).toThrow(/auth\.accessKeys\.0\.secret/);
  });

  it('rejects duplicate warehouse ids and access key ids', () => {
    const raw = minimal();
    raw.tokens.push({ ...raw.tokens[0]! });
    expect(() => validateConfig(raw, {})).toThrow(/duplicate warehouseId 1/);
  });

  it('applies environment overrides for deployment values', () => {
    const c = validateConfig(minimal(), {
      P11BRIDGE_PORT: '9443',
      P11BRIDGE_HOST: '0.0.0.0',
      P11BRIDGE_LOG_LEVEL: 'warn',
    });
    expect(c.server.port).toBe(9443);
    expect(c.server.host).toBe('0.0.0.0');
    expect(c.logging.level).toBe('warn');
  });

  it('keeps the replay window in memory by default, refusing requests signed before the start', () => {
    expect(validateConfig(minimal(), {}).auth.replay).toMatchObject({ store: 'memory', refuseSignedBeforeStart: true });
  });

  it('takes the Redis store and its address from the environment, without changing the parsed file', () => {
    const raw = minimal();
    const c = validateConfig(raw, { P11BRIDGE_REPLAY_STORE: 'redis', P11BRIDGE_REDIS_URL: 'redis://r1:6379' });
    expect(c.auth.replay).toMatchObject({ store: 'redis', redisUrl: 'redis://r1:6379', redisTimeoutMs: 500 });
    expect(raw.auth).not.toHaveProperty('replay');
  });

  it('refuses the Redis store without an address, naming the setting', () => {
    const raw = { ...minimal(), auth: { ...minimal().auth, replay: { store: 'redis' } } };
    expect(() => validateConfig(raw, {})).toThrow(/auth\.replay\.redisUrl: store redis needs redisUrl/);
  });

  it('reports a YAML syntax error with the file name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const f = join(dir, 'bad.yaml');
    writeFileSync(f, 'tokens: [\n');
    expect(() => loadConfigFile(f, {})).toThrow(/bad\.yaml is not valid YAML/);
  });
});

describe('Secret', () => {
  it('never prints its value through String, JSON or util.inspect', () => {
    const s = new Secret('hunter2');
    expect(String(s)).toBe('[redacted]');
    expect(JSON.stringify({ s })).not.toContain('hunter2');
    expect(inspect({ s })).not.toContain('hunter2');
    expect(s.reveal()).toBe('hunter2');
  });

  it('reads a secret from a file without its trailing newline, and from the environment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sec-'));
    const f = join(dir, 'pin');
    writeFileSync(f, '1234\n', { mode: 0o600 });
    expect(resolveSecret({ file: f }).reveal()).toBe('1234');
    expect(resolveSecret({ env: 'X' }, { X: 'abc' }).reveal()).toBe('abc');
    expect(() => resolveSecret({ env: 'MISSING' }, {})).toThrow(/MISSING is not set/);
  });

  it('refuses a secret file readable by group or others, naming the mend, as ssh does', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sec-'));
    const f = join(dir, 'pin');
    writeFileSync(f, '1234\n', { mode: 0o640 });
    chmodSync(f, 0o640);
    expect(() => resolveSecret({ file: f })).toThrow(`(mode 0640); run: chmod 600 ${f}`);
    chmodSync(f, 0o604);
    expect(() => resolveSecret({ file: f })).toThrow(/accessible by group or others/);
    chmodSync(f, 0o400);
    expect(resolveSecret({ file: f }).reveal()).toBe('1234');
  });
});

describe('network safety settings (issue 16)', () => {
  const base = {
    tokens: [{ warehouseId: 1, name: 't', tokenLabel: 'x', pin: { env: 'PIN' } }],
    auth: { accessKeys: [{ id: 'ak', secret: { env: 'S' } }] },
  };

  it('refuses nonceTtlSeconds below twice maxSkewSeconds, which would re-open replay', () => {
    expect(() =>
      validateConfig({ ...base, auth: { ...base.auth, maxSkewSeconds: 900, nonceTtlSeconds: 1799 } }, {}),
    ).toThrow(/auth.nonceTtlSeconds: must be at least 2 × auth.maxSkewSeconds \(1800\)/);
    expect(
      validateConfig({ ...base, auth: { ...base.auth, maxSkewSeconds: 60, nonceTtlSeconds: 120 } }, {}).auth,
    ).toMatchObject({ nonceTtlSeconds: 120 });
  });

  it('defaults the limits so that the headers timeout is shorter than the request timeout', () => {
    const c = validateConfig(base, {});
    expect(c.server.limits.headersTimeoutMs).toBeLessThan(c.server.limits.requestTimeoutMs);
    expect(c.server.limits).toMatchObject({ maxConnections: 4096, keepAliveTimeoutMs: 5000, maxParameters: 64 });
    expect(() =>
      validateConfig({ ...base, server: { limits: { headersTimeoutMs: 30000, requestTimeoutMs: 30000 } } }, {}),
    ).toThrow(/server.limits.headersTimeoutMs: headersTimeoutMs must be shorter than requestTimeoutMs/);
  });

  it('refuses requireClientCert without clientCaFile, and defaults TLS to 1.2 at least', () => {
    const tls = { certFile: '/c.pem', keyFile: { file: '/k.pem' } };
    expect(validateConfig({ ...base, server: { tls } }, {}).server.tls).toMatchObject({
      minVersion: 'TLSv1.2',
      requireClientCert: false,
    });
    expect(() => validateConfig({ ...base, server: { tls: { ...tls, requireClientCert: true } } }, {})).toThrow(
      /server.tls.clientCaFile: requireClientCert needs clientCaFile/,
    );
  });

  it('reads per-key rates, warehouses and a client-certificate binding', () => {
    const c = validateConfig(
      {
        ...base,
        auth: {
          accessKeys: [
            {
              id: 'ak',
              secret: { env: 'S' },
              qps: 5,
              burst: 10,
              warehouses: [1],
              clientCertificate: { subject: 'CN=a' },
            },
          ],
        },
      },
      {},
    );
    expect(c.auth.accessKeys[0]).toMatchObject({ qps: 5, burst: 10, warehouses: [1] });
    expect(validateConfig(base, {}).auth.accessKeys[0]?.warehouses).toEqual(['*']);
  });
});

describe('metrics.tls and metrics.auth', () => {
  it('accepts a bearer token or basic auth by secret reference, and TLS like server.tls', () => {
    const bearer = validateConfig(
      {
        ...minimal(),
        metrics: {
          enabled: true,
          tls: { certFile: '/etc/m.crt', keyFile: { file: '/etc/m.key' } },
          auth: { bearerToken: { file: '/etc/m-token' } },
        },
      },
      {},
    );
    expect(bearer.metrics.tls?.minVersion).toBe('TLSv1.2');
    expect(bearer.metrics.auth).toEqual({ bearerToken: { file: '/etc/m-token' } });
    const basic = validateConfig(
      { ...minimal(), metrics: { auth: { username: 'prometheus', password: { env: 'SCRAPE_PASSWORD' } } } },
      {},
    );
    expect(basic.metrics.auth).toEqual({ username: 'prometheus', password: { env: 'SCRAPE_PASSWORD' } });
  });

  it('refuses an inline scrape secret, a username with a colon, and both kinds at once', () => {
    const refused = [
      { bearerToken: 'inline-token' },
      { username: 'a:b', password: { file: '/etc/p' } },
      { bearerToken: { file: '/etc/t' }, username: 'prometheus', password: { file: '/etc/p' } },
    ];
    for (const auth of refused) {
      expect(() => validateConfig({ ...minimal(), metrics: { auth } }, {})).toThrow(/metrics\.auth/);
    }
  });
});
