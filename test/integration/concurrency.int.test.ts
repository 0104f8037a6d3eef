import { createHash, verify } from 'node:crypto';
import type * as pkcs11 from 'pkcs11js';
import { kmsSignatureAlgorithm, type SignatureAlgorithm } from '../../src/crypto/algorithms';
import type { TokenManager } from '../../src/token/tokenManager';
import { createTestToken, openToken, provisionTestToken, type TestToken } from '../helpers/token';

const RSA = kmsSignatureAlgorithm('RSA_PKCS1_SHA_256') as SignatureAlgorithm;
const PSS = kmsSignatureAlgorithm('RSA_PSS_SHA_256') as SignatureAlgorithm;
const ECDSA = kmsSignatureAlgorithm('ECDSA_SHA_256') as SignatureAlgorithm;

describe('token manager under concurrency (real SoftHSM2 token)', () => {
  let t: TestToken;
  let token: TokenManager;
  let rsaId: string;
  let ecId: string;

  beforeAll(async () => {
    t = createTestToken({ sessions: 4 });
    const p = await provisionTestToken(t);
    rsaId = p.leaves.find((l) => l.keySpec === 'RSA_2048')?.id as string;
    ecId = p.leaves.find((l) => l.keySpec === 'EC_P256')?.id as string;
    token = await openToken(t, { sessions: { size: 4, maxWaiting: 1024, acquireTimeoutMs: 30000 } });
  });

  afterAll(async () => {
    await token.close();
    t.cleanup();
  });

  it('signs 200 concurrent requests on 4 sessions without ever sharing a session, and every signature verifies', async () => {
    // Instrumentation, not a mock: the real C_SignInit + C_Sign run in a PKCS#11 thread; we only record which
    // sessions are busy.
    const lib = token.lib;
    const original = lib.sign.bind(lib);
    const busy = new Set<string>();
    let shared = 0;
    let maxBusy = 0;
    lib.sign = async (
      session: pkcs11.Handle,
      mechanism: pkcs11.Mechanism,
      privateKey: pkcs11.Handle,
      data: Buffer,
      outLen: number,
    ): Promise<Buffer> => {
      const key = session.toString('hex');
      if (busy.has(key)) shared++;
      busy.add(key);
      maxBusy = Math.max(maxBusy, busy.size);
      try {
        return await original(session, mechanism, privateKey, data, outLen);
      } finally {
        busy.delete(key);
      }
    };
    try {
      const jobs = Array.from({ length: 200 }, (_, i) => {
        const alg = i % 3 === 0 ? RSA : i % 3 === 1 ? PSS : ECDSA;
        const id = alg === ECDSA ? ecId : rsaId;
        const data = Buffer.from(`message ${i}`);
        return token.sign(id, alg, { kind: 'message', data }).then((sig) => ({ sig, data, alg, id }));
      });
      const results = await Promise.all(jobs);
      expect(shared).toBe(0);
      expect(maxBusy).toBeGreaterThan(1);
      expect(maxBusy).toBeLessThanOrEqual(4);
      for (const r of results) {
        const key = token.lookup(r.id)?.publicKey;
        if (!key) throw new Error('missing key');
        const ok = verify('sha256', r.data, r.alg === PSS ? { key, padding: 6, saltLength: 32 } : key, r.sig);
        expect(ok).toBe(true);
      }
      expect(token.poolStats.live).toBeLessThanOrEqual(4);
    } finally {
      lib.sign = original;
    }
  });

  it('gives DIGEST and RAW the same PKCS#1 v1.5 signature', async () => {
    const data = Buffer.from('the same data');
    const a = await token.sign(rsaId, RSA, { kind: 'message', data });
    const b = await token.sign(rsaId, RSA, { kind: 'digest', digest: createHash('sha256').update(data).digest() });
    expect(a.equals(b)).toBe(true);
  });

  it('refuses a borrower at once with a busy fault when the session wait queue is full', async () => {
    const small = token; // reuse the open token; build a tiny pool view through a second manager is not possible (one login per process)
    const { Pool } = await import('../../src/token/sessionPool');
    const pool = new Pool<number>(
      { create: () => 1, destroy: () => undefined },
      { size: 1, maxWaiting: 0, acquireTimeoutMs: 1000 },
    );
    await pool.acquire();
    await expect(pool.acquire()).rejects.toMatchObject({ kind: 'busy' });
    expect(small.state).toBe('ready');
  });
});
