/**
 * The fault token itself (softhsm/fault-token, a PKCS#11 test double): driven with pkcs11js directly, on two
 * throwaway SoftHSM2 tokens behind it, initialised with CKF_OS_LOCKING_OK as the daemon does. These tests prove
 * the double, so that the daemon's fault tests can trust it: what passes through is real SoftHSM2 work, and a
 * fault arrives exactly as written in the control file.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as pkcs11js from 'pkcs11js';
import { createFaultControl, faultTokenModule, type FaultControl } from '../helpers/faultToken';
import { createTestToken, type TestToken } from '../helpers/token';

/** OpenSC's logging proxy module (Debian opensc-pkcs11, installed by scripts/bootstrap.sh). */
const PKCS11_SPY = '/usr/lib/x86_64-linux-gnu/pkcs11-spy.so';
const P256 = Buffer.from('06082a8648ce3d030107', 'hex');
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');

interface Side {
  token: TestToken;
  slot: Buffer;
  session: Buffer;
  privateKey: Buffer;
  spki: Buffer;
}

/** The codes the daemon's fault tests need, by name (the module knows every CKR_* of PKCS#11 2.40). */
const REQUIRED_CODES = [
  'CKR_DEVICE_REMOVED',
  'CKR_DEVICE_ERROR',
  'CKR_SESSION_HANDLE_INVALID',
  'CKR_USER_NOT_LOGGED_IN',
  'CKR_PIN_INCORRECT',
  'CKR_PIN_LOCKED',
  'CKR_PIN_EXPIRED',
  'CKR_SESSION_COUNT',
  'CKR_OBJECT_HANDLE_INVALID',
  'CKR_KEY_HANDLE_INVALID',
  'CKR_TOKEN_NOT_PRESENT',
  'CKR_GENERAL_ERROR',
  'CKR_CRYPTOKI_NOT_INITIALIZED',
  'CKR_OPERATION_ACTIVE',
  'CKR_FUNCTION_FAILED',
] as const;

function codeOf(name: string): number {
  const code = (pkcs11js as unknown as Record<string, unknown>)[name];
  if (typeof code !== 'number') throw new Error(`pkcs11js has no ${name}`);
  return code;
}

/** The error a call throws (fails the test when it does not throw). */
function thrown(call: () => unknown): unknown {
  try {
    call();
  } catch (e) {
    return e;
  }
  throw new Error('the call did not throw');
}

function expectPkcs11Error(e: unknown, name: string): void {
  expect(e).toBeInstanceOf(pkcs11js.Pkcs11Error);
  expect((e as pkcs11js.Pkcs11Error).code).toBe(codeOf(name));
}

describe('the fault token in front of SoftHSM2 (pkcs11js, CKF_OS_LOCKING_OK)', () => {
  let lib: pkcs11js.PKCS11;
  let fault: FaultControl;
  let a: Side;
  let b: Side;
  const message = randomBytes(64);
  const digest = createHash('sha256').update(message).digest();

  /** A logged-in session on `token` and an EC P-256 key pair of session objects. */
  function openSide(token: TestToken): Side {
    const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === token.label);
    if (!slot) throw new Error(`token ${token.label} not found`);
    const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    lib.C_Login(session, pkcs11js.CKU_USER, token.pin);
    const keys = lib.C_GenerateKeyPair(
      session,
      { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN },
      [
        { type: pkcs11js.CKA_TOKEN, value: false },
        { type: pkcs11js.CKA_EC_PARAMS, value: P256 },
        { type: pkcs11js.CKA_VERIFY, value: true },
      ],
      [
        { type: pkcs11js.CKA_TOKEN, value: false },
        { type: pkcs11js.CKA_SIGN, value: true },
        { type: pkcs11js.CKA_SENSITIVE, value: true },
      ],
    );
    const [point] = lib.C_GetAttributeValue(session, keys.publicKey, [{ type: pkcs11js.CKA_EC_POINT }]);
    // CKA_EC_POINT is the DER OCTET STRING (04 41) around the uncompressed point.
    const spki = Buffer.concat([P256_SPKI_PREFIX, (point?.value as Buffer).subarray(2)]);
    return { token, slot, session, privateKey: keys.privateKey, spki };
  }

  function sign(side: Side): Buffer {
    lib.C_SignInit(side.session, { mechanism: pkcs11js.CKM_ECDSA }, side.privateKey);
    return lib.C_Sign(side.session, digest, Buffer.alloc(64));
  }

  function verifies(side: Side, signature: Buffer): boolean {
    return verify(
      'sha256',
      message,
      { key: side.spki, format: 'der', type: 'spki', dsaEncoding: 'ieee-p1363' },
      signature,
    );
  }

  beforeAll(() => {
    const tokenA = createTestToken();
    const tokenB = createTestToken();
    fault = createFaultControl(join(tokenA.dir, 'fault'));
    lib = new pkcs11js.PKCS11();
    lib.load(faultTokenModule());
    lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
    a = openSide(tokenA);
    b = openSide(tokenB);
  });

  beforeEach(() => {
    fault.clear();
    fault.reset();
  });

  afterAll(() => {
    fault?.clear();
    try {
      lib?.C_Finalize();
    } catch {
      // a test left it finalised
    }
    lib?.close();
    a?.token.cleanup();
    b?.token.cleanup();
    fault?.cleanup();
  });

  it('forwards every call: a signature made through it verifies with node:crypto, and each call is counted once', () => {
    const signature = sign(a);
    expect(verifies(a, signature)).toBe(true);
    expect(fault.counts()).toMatchObject({ C_SignInit: 1, C_Sign: 1, C_Login: 0 });
    expect(Object.values(fault.injected()).every((n) => n === 0)).toBe(true);
  });

  it('returns each injected code as a Pkcs11Error with that code', () => {
    for (const name of REQUIRED_CODES) {
      fault.set([`C_GetSessionInfo fail ${name}`]);
      expectPkcs11Error(
        thrown(() => lib.C_GetSessionInfo(a.session)),
        name,
      );
    }
    fault.set(['C_GetSessionInfo fail 0x80000123']);
    expect(thrown(() => lib.C_GetSessionInfo(a.session))).toMatchObject({ code: 0x80000123 });
    expect(fault.counts().C_GetSessionInfo).toBe(REQUIRED_CODES.length + 1);
    expect(fault.injected().C_GetSessionInfo).toBe(REQUIRED_CODES.length + 1);
  });

  it('ends the real operation when it fails C_Sign or C_DigestUpdate, as a device does, so the session stays usable', () => {
    fault.set(['C_Sign fail CKR_DEVICE_ERROR']);
    expectPkcs11Error(
      thrown(() => sign(a)),
      'CKR_DEVICE_ERROR',
    );
    fault.set(['C_DigestUpdate fail CKR_DEVICE_ERROR']);
    lib.C_DigestInit(a.session, { mechanism: pkcs11js.CKM_SHA256 });
    expectPkcs11Error(
      thrown(() => lib.C_DigestUpdate(a.session, message)),
      'CKR_DEVICE_ERROR',
    );
    fault.clear();
    // Without the double ending them, SoftHSM2 would answer CKR_OPERATION_ACTIVE to both of these.
    expect(verifies(a, sign(a))).toBe(true);
    lib.C_DigestInit(a.session, { mechanism: pkcs11js.CKM_SHA256 });
    lib.C_DigestUpdate(a.session, message);
    expect(lib.C_DigestFinal(a.session, Buffer.alloc(32))).toEqual(digest);
  });

  it('applies a times=1 rule to the next matching call only, and after=1 lets the first one through', () => {
    fault.set(['C_SignInit fail CKR_KEY_HANDLE_INVALID times=1']);
    expectPkcs11Error(
      thrown(() => sign(a)),
      'CKR_KEY_HANDLE_INVALID',
    );
    expect(verifies(a, sign(a))).toBe(true);
    expect(verifies(a, sign(a))).toBe(true);
    expect(fault.injected().C_SignInit).toBe(1);

    fault.set(['C_SignInit fail CKR_KEY_HANDLE_INVALID after=1 times=1']);
    expect(verifies(a, sign(a))).toBe(true);
    expectPkcs11Error(
      thrown(() => sign(a)),
      'CKR_KEY_HANDLE_INVALID',
    );
    expect(verifies(a, sign(a))).toBe(true);
    expect(fault.injected().C_SignInit).toBe(2);
    expect(fault.counts().C_SignInit).toBe(6);
  });

  it('delays a call by the given milliseconds, then forwards it', () => {
    fault.set(['C_GetSessionInfo delay 200']);
    let started = performance.now();
    expect(lib.C_GetSessionInfo(a.session).slotID).toEqual(a.slot);
    expect(performance.now() - started).toBeGreaterThanOrEqual(195);
    fault.clear();
    started = performance.now();
    lib.C_GetSessionInfo(a.session);
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('holds a C_SignAsync with hang until the rule leaves the control file, then completes it', async () => {
    fault.set(['C_Sign hang']);
    lib.C_SignInit(a.session, { mechanism: pkcs11js.CKM_ECDSA }, a.privateKey);
    let settled = false;
    const pending = lib.C_SignAsync(a.session, digest, Buffer.alloc(64)).finally(() => {
      settled = true;
    });
    await new Promise((r) => setTimeout(r, 400)); // the event loop is free: the call waits on a pool thread
    expect(settled).toBe(false);
    expect(fault.counts().C_Sign).toBe(1);
    const cleared = performance.now();
    fault.clear();
    const signature = await pending;
    expect(performance.now() - cleared).toBeLessThan(500);
    expect(verifies(a, signature)).toBe(true);
  });

  it('applies times= exactly under concurrency: times=25 fails 25 of 200 signatures in flight on 8 sessions', async () => {
    const sessions = Array.from({ length: 8 }, () => lib.C_OpenSession(a.slot, pkcs11js.CKF_SERIAL_SESSION));
    fault.set(['C_Sign fail CKR_DEVICE_ERROR times=25']);
    const outcomes: string[] = [];
    for (let round = 0; round < 25; round++) {
      await Promise.all(
        sessions.map(async (session) => {
          lib.C_SignInit(session, { mechanism: pkcs11js.CKM_ECDSA }, a.privateKey);
          try {
            const signature = await lib.C_SignAsync(session, digest, Buffer.alloc(64));
            outcomes.push(verifies(a, signature) ? 'verified' : 'bad signature');
          } catch (e) {
            outcomes.push((e as pkcs11js.Pkcs11Error).code === codeOf('CKR_DEVICE_ERROR') ? 'fault' : String(e));
          }
        }),
      );
    }
    sessions.forEach((session) => lib.C_CloseSession(session));
    expect(outcomes.filter((o) => o === 'fault')).toHaveLength(25);
    expect(outcomes.filter((o) => o === 'verified')).toHaveLength(175);
    expect(fault.counts().C_Sign).toBe(200);
    expect(fault.injected().C_Sign).toBe(25);
  });

  it('applies a token= rule to one of two tokens on the same module only (session and slot functions)', () => {
    fault.set([
      `C_Sign fail CKR_DEVICE_REMOVED token=${b.token.label}`,
      `C_OpenSession fail CKR_TOKEN_NOT_PRESENT token=${b.token.label}`,
    ]);
    expect(verifies(a, sign(a))).toBe(true);
    expectPkcs11Error(
      thrown(() => sign(b)),
      'CKR_DEVICE_REMOVED',
    );
    lib.C_CloseSession(lib.C_OpenSession(a.slot, pkcs11js.CKF_SERIAL_SESSION));
    expectPkcs11Error(
      thrown(() => lib.C_OpenSession(b.slot, pkcs11js.CKF_SERIAL_SESSION)),
      'CKR_TOKEN_NOT_PRESENT',
    );
    fault.clear();
    expect(verifies(b, sign(b))).toBe(true);
  });

  it('changes behaviour at the next call when the control file is rewritten, without C_Initialize', () => {
    fault.set(['C_GetSessionInfo fail CKR_DEVICE_ERROR']);
    expectPkcs11Error(
      thrown(() => lib.C_GetSessionInfo(a.session)),
      'CKR_DEVICE_ERROR',
    );
    fault.set(['C_GetSessionInfo fail CKR_SESSION_HANDLE_INVALID']);
    expectPkcs11Error(
      thrown(() => lib.C_GetSessionInfo(a.session)),
      'CKR_SESSION_HANDLE_INVALID',
    );
    fault.clear();
    expect(lib.C_GetSessionInfo(a.session).slotID).toEqual(a.slot);
  });

  it('sums the counts of every process using the counts file, while times= applies per process', () => {
    fault.set(['C_GetInfo fail CKR_DEVICE_ERROR times=2']);
    const here = [0, 1, 2].map(() => {
      try {
        lib.C_GetInfo();
        return 'ok';
      } catch {
        return 'fault';
      }
    });
    expect(here).toEqual(['fault', 'fault', 'ok']);
    const child = spawnSync(
      process.execPath,
      [
        '-e',
        `const p11 = require(${JSON.stringify(require.resolve('pkcs11js'))});
         const lib = new p11.PKCS11();
         lib.load(${JSON.stringify(faultTokenModule())});
         lib.C_Initialize({ flags: p11.CKF_OS_LOCKING_OK });
         const out = [];
         for (let i = 0; i < 5; i++) { try { lib.C_GetInfo(); out.push('ok'); } catch { out.push('fault'); } }
         lib.C_Finalize();
         process.stdout.write(out.join(','));`,
      ],
      { env: { ...process.env, ...fault.env }, encoding: 'utf8', timeout: 30_000 },
    );
    expect(child.stderr).toBe('');
    expect(child.stdout).toBe('fault,fault,ok,ok,ok');
    expect(fault.counts()).toMatchObject({ C_GetInfo: 8, C_Initialize: 1, C_Finalize: 1 });
    expect(fault.injected().C_GetInfo).toBe(4);
  });

  it('works the same behind OpenSC pkcs11-spy: signatures verify and an injected code arrives (child process)', () => {
    const log = join(fault.dir, 'spy.log');
    fault.set([`C_SignInit fail CKR_USER_NOT_LOGGED_IN times=1 token=${a.token.label}`]);
    const child = spawnSync(process.execPath, ['-e', signingChild(a.token)], {
      env: { ...process.env, ...fault.env, PKCS11SPY: faultTokenModule(), PKCS11SPY_OUTPUT: log },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(child.stderr).toBe('');
    const out = JSON.parse(child.stdout) as { point: string; results: Array<string | number> };
    expect(out.results[0]).toBe(codeOf('CKR_USER_NOT_LOGGED_IN'));
    const side = { ...a, spki: Buffer.concat([P256_SPKI_PREFIX, Buffer.from(out.point, 'hex').subarray(2)]) };
    expect(verifies(side, Buffer.from(String(out.results[1]), 'hex'))).toBe(true);
    // The spy saw both: the calls went application → pkcs11-spy → fault token → SoftHSM2.
    expect(readFileSync(log, 'utf8')).toMatch(/C_SignInit[\s\S]*Returned:\s+257 CKR_USER_NOT_LOGGED_IN/);
    expect(fault.injected().C_SignInit).toBe(1);
  });

  /** A child's PKCS#11 client through OpenSC's pkcs11-spy: a session key pair on `token`, then two signatures. */
  function signingChild(token: TestToken): string {
    return `const p11 = require(${JSON.stringify(require.resolve('pkcs11js'))});
      const lib = new p11.PKCS11();
      lib.load(${JSON.stringify(PKCS11_SPY)});
      lib.C_Initialize({ flags: p11.CKF_OS_LOCKING_OK });
      const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === ${JSON.stringify(token.label)});
      const session = lib.C_OpenSession(slot, p11.CKF_SERIAL_SESSION | p11.CKF_RW_SESSION);
      lib.C_Login(session, p11.CKU_USER, ${JSON.stringify(token.pin)});
      const keys = lib.C_GenerateKeyPair(session, { mechanism: p11.CKM_EC_KEY_PAIR_GEN },
        [{ type: p11.CKA_TOKEN, value: false }, { type: p11.CKA_EC_PARAMS, value: Buffer.from('${P256.toString('hex')}', 'hex') }],
        [{ type: p11.CKA_TOKEN, value: false }, { type: p11.CKA_SIGN, value: true }]);
      const point = lib.C_GetAttributeValue(session, keys.publicKey, [{ type: p11.CKA_EC_POINT }])[0].value;
      const results = [];
      for (let i = 0; i < 2; i++) {
        try {
          lib.C_SignInit(session, { mechanism: p11.CKM_ECDSA }, keys.privateKey);
          results.push(lib.C_Sign(session, Buffer.from('${digest.toString('hex')}', 'hex'), Buffer.alloc(64)).toString('hex'));
        } catch (e) {
          results.push(e.code);
        }
      }
      lib.C_Finalize();
      process.stdout.write(JSON.stringify({ point: point.toString('hex'), results }));`;
  }

  it('fails C_Initialize under a rule (a device that does not come back), lets * spare C_Finalize, and recovers', () => {
    fault.set(['* fail CKR_DEVICE_REMOVED']);
    expectPkcs11Error(
      thrown(() => lib.C_GetInfo()),
      'CKR_DEVICE_REMOVED',
    );
    lib.C_Finalize();
    expectPkcs11Error(
      thrown(() => lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK })),
      'CKR_DEVICE_REMOVED',
    );
    fault.clear();
    lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
    a = openSide(a.token);
    expect(verifies(a, sign(a))).toBe(true);
  });
});
