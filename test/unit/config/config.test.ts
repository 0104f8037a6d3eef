import { inspect } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
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
    writeFileSync(f, '1234\n');
    expect(resolveSecret({ file: f }).reveal()).toBe('1234');
    expect(resolveSecret({ env: 'X' }, { X: 'abc' }).reveal()).toBe('abc');
    expect(() => resolveSecret({ env: 'MISSING' }, {})).toThrow(/MISSING is not set/);
  });
});
