/**
 * The token layer against the SM2 test token (softhsm/sm2-test-token, a test double built to the TASS profile of
 * docs/hsm/sm2-tass.yaml): the profile probe, the key index on vendor and EC key types, the signing plans (e, the
 * combined SM3-with-SM2 mechanism, a sign mechanism that takes the message), concurrency, and a wrong profile.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { toApiError } from '../../src/api/lowerFloorErrors';
import { kmsSignatureAlgorithm, keySpecRow, type SignatureAlgorithm } from '../../src/crypto/algorithms';
import { pemEncode } from '../../src/crypto/pem';
import { sm2PublicPointOfSpki, sm2Verify } from '../../src/crypto/sm2';
import { TokenManager } from '../../src/token/tokenManager';
import { generateKeyPair, privateKeyAttributes } from '../../src/token/objects';
import { Scratch } from '../helpers/verify';
import {
  clientE,
  createSm2TestToken,
  openSm2Token,
  opensslSm2Verify,
  provisionSm2TestToken,
  smCryptoVerify,
  type Sm2TestToken,
} from '../helpers/sm2Token';

const sm2dsa = kmsSignatureAlgorithm('SM2DSA') as SignatureAlgorithm;
const ecSm2 = keySpecRow('EC_SM2');

describe('the SM2 test token behind a TokenManager (TASS profile)', () => {
  let t: Sm2TestToken;
  let ids: { ca: string; leaf: string };
  const scratch = new Scratch();

  beforeAll(async () => {
    t = createSm2TestToken({ warehouseId: 2 });
    ids = await provisionSm2TestToken(t);
  });

  afterAll(() => {
    t?.cleanup();
    scratch.cleanup();
  });

  it('proves every role of the profile at start: SM2DSA, SM2PKE and EC_SM2 key generation', async () => {
    const token = await openSm2Token(t);
    try {
      expect(token.capabilities.signatureAlgorithms).toEqual(['SM2DSA']);
      expect(token.capabilities.decryptionAlgorithms).toEqual(['SM2PKE']);
      expect(token.capabilities.keySpecs).toEqual(['EC_SM2']);
      expect([...token.capabilities.mechanisms].map((m) => m.toString(16)).sort()).toEqual(
        ['80000005', '80008000', '80008001', '80008100', '80008200'].sort(),
      );
    } finally {
      await token.close();
    }
  });

  it('indexes keys of the vendor key type as EC_SM2, sensitive and never extractable, with their certificates', async () => {
    const token = await openSm2Token(t);
    try {
      const leaf = token.lookup(ids.leaf);
      expect(leaf).toMatchObject({
        keyType: 'SM2',
        keySpec: 'EC_SM2',
        canSign: true,
        canDecrypt: true,
        signatureLength: 72,
      });
      expect(leaf?.certificate?.issuer).toContain('p11bridge SM2 test CA');
      // The chain links through an SM2-with-SM3 signature (node:crypto alone cannot check it: wrong default ID).
      expect(leaf?.chain).toHaveLength(1);
      expect(token.lookup(ids.ca)?.isCA).toBe(true);
      expect(await privateKeyAttributes(token, leaf?.ckaId ?? Buffer.alloc(0))).toEqual({
        sensitive: true,
        extractable: false,
        alwaysSensitive: true,
        neverExtractable: true,
      });
      if (leaf) expect(token.supports(leaf, sm2dsa)).toBe(true);
    } finally {
      await token.close();
    }
  });

  it('signs e = SM3(Z_A ‖ M) in the token; sm-crypto and openssl verify with the ID 1234567812345678', async () => {
    const token = await openSm2Token(t);
    try {
      const pem = pemEncode('CERTIFICATE', token.lookup(ids.leaf)?.certificate?.raw ?? Buffer.alloc(0));
      const message = randomBytes(300);
      const raw = await token.sign(ids.leaf, sm2dsa, { kind: 'message', data: message });
      const digest = await token.sign(ids.leaf, sm2dsa, { kind: 'digest', digest: clientE(pem, message) });
      for (const signature of [raw, digest]) {
        expect(smCryptoVerify(pem, message, signature)).toBe(true);
        expect(smCryptoVerify(pem, message, signature, 'another-user-id')).toBe(false);
        expect(opensslSm2Verify(scratch, pem, message, signature).output).toContain('Signature Verified Successfully');
      }
    } finally {
      await token.close();
    }
  });

  it('serves 32 concurrent signatures on 4 sessions, every one valid (the module serialises its calls)', async () => {
    const token = await openSm2Token(t);
    try {
      const point = sm2PublicPointOfSpki(token.lookup(ids.leaf)?.spki ?? Buffer.alloc(0));
      const messages = Array.from({ length: 32 }, () => randomBytes(64));
      const signatures = await Promise.all(
        messages.map((data) => token.sign(ids.leaf, sm2dsa, { kind: 'message', data })),
      );
      signatures.forEach((s, i) => expect(sm2Verify(point, messages[i] as Buffer, s)).toBe(true));
    } finally {
      await token.close();
    }
  });
});

describe('SM2 profiles that differ from the TASS sample, on the same test module', () => {
  const scratch = new Scratch();
  afterAll(() => scratch.cleanup());

  async function withToken<T>(
    sm2: Record<string, unknown>,
    fn: (token: TokenManager, t: Sm2TestToken) => Promise<T>,
  ): Promise<T> {
    const t = createSm2TestToken({ sm2 });
    const token = await openSm2Token(t);
    try {
      return await fn(token, t);
    } finally {
      await token.close();
      t.cleanup();
    }
  }

  async function newKey(token: TokenManager, label: string): Promise<Buffer> {
    if (!ecSm2) throw new Error('EC_SM2 row missing');
    const key = await generateKeyPair(token, ecSm2, label, randomBytes(16), 'sign');
    await token.refreshIndex();
    return sm2PublicPointOfSpki(key.spki);
  }

  it('keeps SM2 keys as CKK_EC on sm2p256v1 when the profile says keyType 3, and indexes them as EC_SM2', async () => {
    await withToken({ keyType: 3 }, async (token) => {
      const point = await newKey(token, 'ec-typed');
      expect(token.lookup('ec-typed')).toMatchObject({ keyType: 'SM2', keySpec: 'EC_SM2' });
      const data = randomBytes(50);
      expect(sm2Verify(point, data, await token.sign('ec-typed', sm2dsa, { kind: 'message', data }))).toBe(true);
    });
  });

  it('with only the combined SM3-with-SM2 mechanism, signs RAW messages (the token computes Z_A) and refuses DIGEST', async () => {
    await withToken({ mechanisms: { keyPairGen: 0x80008001, sm3WithSm2: 0x80008100 } }, async (token) => {
      expect(token.capabilities.signatureAlgorithms).toEqual(['SM2DSA']);
      expect(token.capabilities.decryptionAlgorithms).toEqual([]);
      const point = await newKey(token, 'combined');
      const data = randomBytes(80);
      expect(sm2Verify(point, data, await token.sign('combined', sm2dsa, { kind: 'message', data }))).toBe(true);
      const refused = await token.sign('combined', sm2dsa, { kind: 'digest', digest: randomBytes(32) }).then(
        () => undefined,
        (e: unknown) => e,
      );
      // The planner's own refusal, which the API layer answers with UnsupportedOperation.
      expect(refused).toMatchObject({ name: 'PlanError', reason: 'unsupported' });
      expect(toApiError(refused)).toMatchObject({ code: 'UnsupportedOperation' });
    });
  });

  it('with a sign mechanism that takes the message (signInput: message), signs RAW messages', async () => {
    await withToken(
      { mechanisms: { keyPairGen: 0x80008001, sign: 0x80008100 }, signInput: 'message' },
      async (token) => {
        const point = await newKey(token, 'message-input');
        const data = randomBytes(80);
        expect(sm2Verify(point, data, await token.sign('message-input', sm2dsa, { kind: 'message', data }))).toBe(true);
      },
    );
  });

  it('signs with a configured user ID, which only verifies with that ID', async () => {
    await withToken({ userId: 'alice@example.com' }, async (token) => {
      const point = await newKey(token, 'alice');
      const data = randomBytes(40);
      const signature = await token.sign('alice', sm2dsa, { kind: 'message', data });
      expect(sm2Verify(point, data, signature, 'alice@example.com')).toBe(true);
      expect(sm2Verify(point, data, signature)).toBe(false);
    });
  });

  it('leaves out, and logs, the roles a wrong profile gets wrong (SANSEC numbers on this TASS-numbered token)', async () => {
    const t = createSm2TestToken({
      sm2: {
        vendor: 'wrong',
        mechanisms: { keyPairGen: 0x80008001, sign: 0x80008104, encrypt: 0x80008200, sm3: 0x80009001 },
      },
    });
    const lines: string[] = [];
    const log = pino(
      { level: 'warn' },
      new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }),
    );
    const token = new TokenManager(t.tokenConfig, log);
    await token.open();
    try {
      expect(token.capabilities.signatureAlgorithms).toEqual([]);
      expect(token.capabilities.keySpecs).toEqual([]);
      // The encryption number is right for this token: SM2PKE still works.
      expect(token.capabilities.decryptionAlgorithms).toEqual(['SM2PKE']);
      const problems = lines.map((l) => (JSON.parse(l) as { problem?: string }).problem).filter(Boolean);
      expect(problems.join('\n')).toMatch(/0x80008104/);
      expect(problems.join('\n')).toMatch(/sm3 0x80009001/);
    } finally {
      await token.close();
      t.cleanup();
    }
  });
});
