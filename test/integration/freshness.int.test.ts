import { kmsSignatureAlgorithm, type SignatureAlgorithm } from '../../src/crypto/algorithms';
import { setCertificateStatus } from '../../src/identities/certificates/lifecycle';
import type { TokenManager } from '../../src/token/tokenManager';
import { createTestToken, openToken, provisionTestToken, type TestToken } from '../helpers/token';

const RSA = kmsSignatureAlgorithm('RSA_PKCS1_SHA_256') as SignatureAlgorithm;

describe('lifecycle state shared through the token (real SoftHSM2 token)', () => {
  let t: TestToken;
  let a: TokenManager;
  let b: TokenManager;
  let rsaId: string;

  beforeAll(async () => {
    t = createTestToken();
    const p = await provisionTestToken(t);
    rsaId = p.leaves.find((l) => l.keySpec === 'RSA_2048')?.id as string;
    // Two managers on one token stand for two daemons in front of the same HSM.
    a = await openToken(t, { indexRefreshMs: 0 });
    b = await openToken(t, { indexRefreshMs: 100 });
  });

  afterAll(async () => {
    await a.close();
    await b.close();
    t.cleanup();
  });

  it('shows a status change made by one daemon to another within indexRefreshMs', async () => {
    expect(b.lookup(rsaId)?.metadata.status).toBe('ACTIVE');
    await setCertificateStatus(a, rsaId, 'INACTIVE');
    expect(a.lookup(rsaId)?.metadata.status).toBe('INACTIVE');
    await new Promise((r) => setTimeout(r, 300));
    expect(b.lookup(rsaId)?.metadata.status).toBe('INACTIVE');
    await setCertificateStatus(a, rsaId, 'ACTIVE');
    await new Promise((r) => setTimeout(r, 300));
    expect(b.lookup(rsaId)?.metadata.status).toBe('ACTIVE');
    expect(await b.sign(rsaId, RSA, { kind: 'message', data: Buffer.from('x') })).toHaveLength(256);
  });
});
