/**
 * `metadataStore: file` (decision 0031) on a real SoftHSM2 token: lifecycle metadata and KMS key records live in a
 * file beside the token, each authenticated by an HMAC key generated in the token. Every tampering an attacker with
 * write access to the file can do without the token (edit, relabel, copy from another token, garbage) refuses the
 * identity as damaged on-token metadata does; writers under the file lock never lose each other's records.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pkcs11 from 'pkcs11js';
import { keysOf } from '../../src/identities/keys/keyView';
import { createKey } from '../../src/identities/keys/lifecycle';
import { provisionDemo } from '../../src/identities/demoProvisioning';
import { setCertificateStatus } from '../../src/identities/certificates/lifecycle';
import { isTokenFault } from '../../src/token/faults';
import { METADATA_APPLICATION } from '../../src/token/metadata';
import { storeMetadata } from '../../src/token/objects';
import { RECORD_KEY_LABEL } from '../../src/token/records/recordMac';
import type { TokenManager } from '../../src/token/tokenManager';
import { createTestToken, openToken, type TestToken } from '../helpers/token';

interface FileJson {
  format: string;
  records: Array<{ application: string; label: string; value: string; mac: string }>;
}

const IDS = { ca: 'rec-ca', leaves: ['rec-rsa', 'rec-ec'] };
const recordDir = mkdtempSync(join(tmpdir(), 'p11bridge-records-'));
const fileStore = (name: string) => ({ metadataStore: 'file', metadataFile: join(recordDir, `${name}.json`) });

async function provisioned(t: TestToken): Promise<void> {
  const m = await openToken(t);
  try {
    await provisionDemo(m, { ids: IDS });
  } finally {
    await m.close();
  }
}

describe('the record file of metadataStore: file (real SoftHSM2 token)', () => {
  let t: TestToken;
  let other: TestToken;
  let path: string;
  /** The file as the token last wrote it, before a test tampered with it (restored after that test). */
  let snapshot: string | undefined;
  const read = (): FileJson => JSON.parse(readFileSync(path, 'utf8')) as FileJson;
  const tamper = (content: string | FileJson): void => {
    snapshot ??= readFileSync(path, 'utf8');
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  };
  const withToken = async (fn: (m: TokenManager) => Promise<void>): Promise<void> => {
    const m = await openToken(t);
    try {
      await fn(m);
    } finally {
      await m.close();
    }
  };

  beforeAll(async () => {
    t = createTestToken({ overrides: fileStore('t') });
    path = t.tokenConfig.metadataFile as string;
    other = createTestToken({ overrides: fileStore('other') });
    await provisioned(t);
    await provisioned(other);
  });

  afterEach(() => {
    if (snapshot !== undefined) writeFileSync(path, snapshot);
    snapshot = undefined;
  });
  afterAll(() => {
    t.cleanup();
    other.cleanup();
    rmSync(recordDir, { recursive: true, force: true });
  });

  it('keeps every identity record in the file, none on the token, vouched for by a sensitive non-extractable token key', async () => {
    expect(
      read()
        .records.map((r) => `${r.application}:${r.label}`)
        .sort(),
    ).toEqual(['rec-ca', 'rec-ec', 'rec-rsa'].map((l) => `${METADATA_APPLICATION}:${l}`));
    await withToken(async (m) => {
      for (const id of ['rec-ca', 'rec-rsa', 'rec-ec']) {
        expect(m.lookup(id)).toMatchObject({ problem: undefined, metadata: { status: 'ACTIVE' } });
      }
      await m.admin(async (session, lib) => {
        expect(await lib.findObjects(session, [{ type: pkcs11.CKA_CLASS, value: pkcs11.CKO_DATA }])).toHaveLength(0);
        const keys = await lib.findObjects(session, [{ type: pkcs11.CKA_LABEL, value: RECORD_KEY_LABEL }]);
        expect(keys).toHaveLength(1);
        const a = await lib.getAttributes(session, keys[0] as Buffer, [
          pkcs11.CKA_CLASS,
          pkcs11.CKA_SENSITIVE,
          pkcs11.CKA_EXTRACTABLE,
          pkcs11.CKA_NEVER_EXTRACTABLE,
        ]);
        expect(a.get(pkcs11.CKA_CLASS)?.readUInt32LE(0)).toBe(pkcs11.CKO_SECRET_KEY);
        expect(
          [pkcs11.CKA_SENSITIVE, pkcs11.CKA_EXTRACTABLE, pkcs11.CKA_NEVER_EXTRACTABLE].map((x) => a.get(x)?.[0]),
        ).toEqual([1, 0, 1]);
      });
    });
  });

  it('refuses an identity whose record was edited in the file (INACTIVE turned back to ACTIVE, MAC kept)', async () => {
    await withToken((m) => setCertificateStatus(m, 'rec-rsa', 'INACTIVE'));
    const f = read();
    const rec = f.records.find((r) => r.label === 'rec-rsa');
    if (!rec) throw new Error('no record');
    const meta = JSON.parse(Buffer.from(rec.value, 'base64').toString('utf8')) as { status: string };
    expect(meta.status).toBe('INACTIVE');
    rec.value = Buffer.from(JSON.stringify({ ...meta, status: 'ACTIVE' })).toString('base64');
    tamper(f);
    await withToken(async (m) => {
      expect(m.lookup('rec-rsa')?.problem).toMatch(/damaged/);
      expect(m.lookup('rec-ec')?.problem).toBeUndefined();
    });
  });

  it("refuses every identity when a record is replaced by another identity's record relabelled (the file's own MAC)", async () => {
    const f = read();
    const ca = f.records.find((r) => r.label === 'rec-ca');
    f.records = [
      ...f.records.filter((r) => r.label !== 'rec-ec'),
      { ...(ca as FileJson['records'][0]), label: 'rec-ec' },
    ];
    tamper(f);
    await withToken(async (m) => {
      for (const id of ['rec-ca', 'rec-rsa', 'rec-ec']) expect(m.lookup(id)?.problem).toMatch(/damaged/);
      // Never made good by a write: it would re-vouch for the tampered file.
      const e = await storeMetadata(m, 'rec-x', { status: 'PENDING' }).catch((x: unknown) => x);
      expect(isTokenFault(e, 'unavailable')).toBe(true);
    });
  });

  it('refuses every identity when the file is rolled back to an older copy of its own (the token keeps the generation)', async () => {
    const older = readFileSync(path, 'utf8');
    await withToken((m) => storeMetadata(m, 'rec-y', { status: 'PENDING' }));
    expect(read().records.map((r) => r.label)).toContain('rec-y');
    tamper(older);
    await withToken(async (m) => {
      for (const id of ['rec-ca', 'rec-rsa', 'rec-ec']) expect(m.lookup(id)?.problem).toMatch(/damaged/);
      const e = await storeMetadata(m, 'rec-z', { status: 'PENDING' }).catch((x: unknown) => x);
      expect(isTokenFault(e, 'unavailable')).toBe(true);
      expect((e as Error).message).toMatch(/older than the token/);
    });
  });

  it('refuses every identity when the file is a valid record file copied from another token', async () => {
    tamper(readFileSync(other.tokenConfig.metadataFile as string, 'utf8'));
    await withToken(async (m) => {
      for (const id of ['rec-ca', 'rec-rsa', 'rec-ec']) expect(m.lookup(id)?.problem).toMatch(/damaged/);
    });
  });

  it('refuses every identity when the file is damaged, and never overwrites it with a write', async () => {
    tamper('{"format":"p11bridge-records/1","rec');
    await withToken(async (m) => {
      for (const id of ['rec-ca', 'rec-rsa', 'rec-ec']) expect(m.lookup(id)?.problem).toMatch(/no lifecycle metadata/);
      const e = await storeMetadata(m, 'rec-ec', { status: 'ACTIVE' }).catch((x: unknown) => x);
      expect(isTokenFault(e, 'unavailable')).toBe(true);
    });
    expect(readFileSync(path, 'utf8')).toBe('{"format":"p11bridge-records/1","rec');
  });

  it('keeps every record of twenty writers at once (the lock serialises them) and a status write repairs a record', async () => {
    await withToken(async (m) => {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => storeMetadata(m, `rec-extra-${i}`, { status: 'PENDING' })),
      );
      expect(read().records.filter((r) => r.label.startsWith('rec-extra-'))).toHaveLength(20);
    });
    const f = read();
    (f.records.find((r) => r.label === 'rec-ec') as FileJson['records'][0]).value =
      Buffer.from('{}').toString('base64');
    tamper(f);
    await withToken(async (m) => {
      expect(m.lookup('rec-ec')?.problem).toMatch(/damaged/);
      expect(m.lookup('rec-ca')?.problem).toBeUndefined();
      await setCertificateStatus(m, 'rec-ec', 'ACTIVE');
      expect(m.lookup('rec-ec')).toMatchObject({ problem: undefined, metadata: { status: 'ACTIVE' } });
    });
    // The repaired file is the token's newest: kept.
    snapshot = undefined;
  });

  it('keeps KMS key records in the file too: a created key is served, the same record tampered is refused', async () => {
    let keyId = '';
    await withToken(async (m) => {
      const key = await createKey([m], {
        keySpec: 'EC_P256',
        keyUsage: 'SIGN/VERIFY',
        description: 'file store',
        tags: {},
        scope: { regionId: 'cn-hangzhou', accountId: '1234567890' },
        creator: 'LTAI5tRECORDS0000001',
      });
      keyId = key.keyId;
      expect(keysOf(m).keys.map((k) => k.keyId)).toContain(keyId);
    });
    const f = read();
    const rec = f.records.find((r) => r.label === keyId);
    expect(rec?.application).toBe('p11bridge-kms-key');
    const record = JSON.parse(Buffer.from(rec?.value ?? '', 'base64').toString('utf8')) as { state: string };
    (rec as FileJson['records'][0]).value = Buffer.from(JSON.stringify({ ...record, description: 'changed' })).toString(
      'base64',
    );
    tamper(f);
    await withToken(async (m) => {
      expect(keysOf(m).keys.map((k) => k.keyId)).not.toContain(keyId);
      expect(keysOf(m).damaged.find((d) => d.keyId === keyId)?.problem).toMatch(/damaged/);
    });
  });
});
