import { spawnSync } from 'node:child_process';
import { verify } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { kmsSignatureAlgorithm, type SignatureAlgorithm } from '../../src/crypto/algorithms';
import { toApiError } from '../../src/api/lowerFloorErrors';
import { TokenFault } from '../../src/token/faults';
import type { TokenManager } from '../../src/token/tokenManager';
import { createTestToken, openToken, provisionTestToken, type TestToken } from '../helpers/token';

const RSA = kmsSignatureAlgorithm('RSA_PKCS1_SHA_256') as SignatureAlgorithm;
const ECDSA = kmsSignatureAlgorithm('ECDSA_SHA_256') as SignatureAlgorithm;
const CLI = resolve(__dirname, '..', '..', 'dist', 'main.js');

describe('recovery when the token is re-initialised underneath the daemon (real SoftHSM2 token)', () => {
  let t: TestToken;
  let token: TokenManager;
  let ids: { ca: string; leaves: string[] };

  beforeAll(async () => {
    t = createTestToken();
    const p = await provisionTestToken(t);
    ids = { ca: p.ca.id, leaves: p.leaves.map((l) => l.id) };
    token = await openToken(t, {
      recovery: {
        initialDelayMs: 50,
        maxDelayMs: 500,
        drainMs: 10000,
        maxRecoveries: 5,
        windowMs: 60000,
        stuckExitMs: 60000,
      },
    });
  });

  afterAll(async () => {
    await token.close();
    t.cleanup();
  });

  it('signs with the new key after softhsm2-util re-initialises the token and new keys get the same labels', async () => {
    const [rsaId, ecId] = ids.leaves as [string, string];
    const data = Buffer.from('before and after');
    const oldKey = token.lookup(rsaId)?.spki;
    expect(await token.sign(rsaId, RSA, { kind: 'message', data })).toHaveLength(256);

    // Another process wipes the token (same label and PINs) and generates new keys under the same identifiers.
    const reinit = spawnSync(
      'softhsm2-util',
      ['--init-token', '--token', t.label, '--label', t.label, '--so-pin', t.soPin, '--pin', t.pin],
      { env: { ...process.env, SOFTHSM2_CONF: t.conf }, encoding: 'utf8' },
    );
    expect(reinit.status).toBe(0);
    const configFile = join(t.dir, 'config.yaml');
    writeFileSync(
      configFile,
      stringify({
        tokens: [{ warehouseId: 1, name: t.label, tokenLabel: t.label, pin: { file: t.pinFile } }],
        auth: { accessKeys: [{ id: 'x', secret: { env: 'UNUSED' } }] },
      }),
    );
    const prov = spawnSync(
      'node',
      [CLI, 'provision', '--config', configFile, '--ids', [ids.ca, ...ids.leaves].join(',')],
      {
        env: { ...process.env, SOFTHSM2_CONF: t.conf },
        encoding: 'utf8',
      },
    );
    expect(prov.stderr).toBe('');
    expect(prov.status).toBe(0);

    // The next requests recover (drain, C_Finalize, C_Initialize, login, re-index) and sign with the new keys.
    const rsaSig = await token.sign(rsaId, RSA, { kind: 'message', data });
    const ecSig = await token.sign(ecId, ECDSA, { kind: 'message', data });
    const rsaEntry = token.lookup(rsaId);
    const ecEntry = token.lookup(ecId);
    expect(rsaEntry?.spki.equals(oldKey as Buffer)).toBe(false);
    expect(verify('sha256', data, rsaEntry?.publicKey as never, rsaSig)).toBe(true);
    expect(verify('sha256', data, ecEntry?.publicKey as never, ecSig)).toBe(true);
    expect(token.state).toBe('ready');
  });

  it('answers ServiceUnavailable at once, without hanging, while a recovery is running', async () => {
    const recovering = token.recoverModule(new Error('test-triggered recovery'));
    const refused = await token.sign(ids.leaves[0] as string, RSA, { kind: 'message', data: Buffer.from('x') }).then(
      () => undefined,
      (e: unknown) => e,
    );
    // The token's own fault, which the API layer answers with ServiceUnavailable.
    expect(refused).toBeInstanceOf(TokenFault);
    expect(toApiError(refused)).toMatchObject({ code: 'ServiceUnavailable' });
    await recovering;
    expect(token.state).toBe('ready');
    expect(await token.sign(ids.leaves[0] as string, RSA, { kind: 'message', data: Buffer.from('x') })).toHaveLength(
      256,
    );
  });
});
