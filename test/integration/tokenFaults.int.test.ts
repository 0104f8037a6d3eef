/**
 * The token layer under the faults real HSMs produce (issue 12): hangs, refused PINs, removed devices, one of two
 * tokens failing, a session left mid-operation. Real SoftHSM2 tokens sit behind the fault token
 * (softhsm/fault-token, a PKCS#11 TEST DOUBLE that forwards to SoftHSM2 and injects the fault a test writes into
 * its control file): every signature that succeeds was made by SoftHSM2 and is verified here with node:crypto.
 *
 * Order matters in one place: the refused-PIN test runs last, because it leaves token A unavailable for good in
 * this process (that is the PIN-safety rule it proves).
 */
import { randomBytes, verify } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { TokenConfig } from '../../src/config/schema';
import { toApiError } from '../../src/api/lowerFloorErrors';
import { CKA_LABEL } from 'pkcs11js';
import {
  keySpecRow,
  kmsSignatureAlgorithm,
  type KeySpecRow,
  type SignatureAlgorithm,
} from '../../src/crypto/algorithms';
import { generateKeyPair } from '../../src/token/objects';
import { ApiError } from '../../src/errors/apiError';
import type { TokenManager } from '../../src/token/tokenManager';
import { createFaultControl, faultTokenOverrides, type FaultControl } from '../helpers/faultToken';
import { changePinElsewhere, createTestToken, openToken, provisionTestToken, type TestToken } from '../helpers/token';

const RSA = kmsSignatureAlgorithm('RSA_PKCS1_SHA_256') as SignatureAlgorithm;
const ECDSA = kmsSignatureAlgorithm('ECDSA_SHA_256') as SignatureAlgorithm;
const OPERATION_MS = 300;
const SESSIONS = 4;
/** Per test: the slowest one waits 2 s on purpose; the rest is headroom for a busy 2-core machine. */
const TEST_MS = 30000;

/** Every token of this suite goes through the fault module, with short deadlines and a fast recovery ladder. */
function faultOverrides(): Partial<TokenConfig> {
  return faultTokenOverrides(OPERATION_MS);
}

interface Keys {
  rsa: string;
  ec: string;
}

async function provisionKeys(t: TestToken): Promise<Keys> {
  const p = await provisionTestToken(t);
  const rsa = p.leaves.find((l) => l.keySpec === 'RSA_2048');
  const ec = p.leaves.find((l) => l.keySpec === 'EC_P256');
  if (!rsa || !ec) throw new Error('the demo key set has no RSA-2048 or no EC P-256 leaf');
  return { rsa: rsa.id, ec: ec.id };
}

/** Signs on the token and verifies the signature with node:crypto against the token's public key. */
async function signAndVerify(token: TokenManager, id: string, alg: SignatureAlgorithm, text: string): Promise<void> {
  const data = Buffer.from(text);
  const sig = await token.sign(id, alg, { kind: 'message', data });
  const entry = token.lookup(id);
  if (!entry) throw new Error(`no entry for ${id}`);
  expect(verify('sha256', data, entry.publicKey, sig)).toBe(true);
}

/** The error a promise rejects with, and how long it took (fails when it resolves). */
async function rejection(p: Promise<unknown>): Promise<{ err: unknown; ms: number }> {
  const t0 = performance.now();
  try {
    await p;
  } catch (err) {
    return { err, ms: performance.now() - t0 };
  }
  throw new Error('expected a rejection, the call succeeded');
}

/**
 * The token speaks its own language (a PKCS#11 error or a token fault, never a cloud code), and the API layer's one
 * translator answers it with `code`.
 */
function expectApiError(err: unknown, code: string): void {
  expect(err).not.toBeInstanceOf(ApiError);
  expect(toApiError(err).code).toBe(code);
}

/** Polls `cond` every 20 ms; resolves with the time it took, or throws after `ms`. */
async function waitFor(cond: () => boolean, ms: number, what: string): Promise<number> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > ms) throw new Error(`not ${what} within ${ms} ms`);
    await delay(20);
  }
  return performance.now() - t0;
}

/**
 * Measures how late setTimeout(…, 10) fires, back to back, until stopped: the event loop's responsiveness while
 * the token hangs. Returns the longest time one 10 ms timer took to fire.
 */
function lagProbe(): { stop(): Promise<{ maxFireMs: number; samples: number }> } {
  let running = true;
  let maxFireMs = 0;
  let samples = 0;
  const done = (async () => {
    while (running) {
      const t0 = performance.now();
      await new Promise<void>((r) => setTimeout(r, 10));
      maxFireMs = Math.max(maxFireMs, performance.now() - t0);
      samples++;
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return { maxFireMs, samples };
    },
  };
}

describe('token faults behind the fault token (real SoftHSM2 tokens, every signature verified)', () => {
  let fault: FaultControl;
  let a: TestToken;
  let b: TestToken;
  let keysA: Keys;
  let keysB: Keys;
  let tokenA: TokenManager;

  beforeAll(async () => {
    // Both tokens exist and are provisioned (through SoftHSM2 directly, then finalised) before the fault module is
    // initialised: SoftHSM2 only sees tokens created by another process at C_Initialize.
    a = createTestToken({ sessions: SESSIONS });
    b = createTestToken({ sessions: SESSIONS });
    keysA = await provisionKeys(a);
    keysB = await provisionKeys(b);
    // Before the first C_Initialize of the fault module in this process: it reads its control path then.
    fault = createFaultControl(join(a.dir, 'fault'));
    tokenA = await openToken(a, faultOverrides());
  }, 60000);

  beforeEach(async () => {
    // Each test starts from a serving token A, whatever the previous one left behind.
    fault.clear();
    await waitFor(() => tokenA.isReady(), 5000, 'token A ready before the test');
  }, 30000);

  afterAll(async () => {
    fault?.clear(); // a hung call must return before the module can be finalised
    await tokenA?.close();
    fault?.cleanup();
    a?.cleanup();
    b?.cleanup();
  }, 30000);

  it(
    'refuses at the deadline while C_Sign hangs, keeps the event loop free, and serves again once the token answers',
    async () => {
      await signAndVerify(tokenA, keysA.rsa, RSA, 'before the hang');
      fault.set([`C_Sign hang token=${a.label}`]);
      const probe = lagProbe();

      // More requests than sessions: SESSIONS of them hang in C_Sign, the others wait for a session. The waiting
      // ones are refused at the deadline too (they used to get a session only when the hang ended, and sign late).
      const first = await Promise.all(
        Array.from({ length: SESSIONS + 3 }, (_, i) =>
          rejection(tokenA.sign(keysA.rsa, RSA, { kind: 'message', data: Buffer.from(`hangs ${i}`) })),
        ),
      );
      for (const r of first) {
        expectApiError(r.err, 'ServiceUnavailable');
        expect(r.ms).toBeLessThan(800);
      }
      const hung = first[0] as (typeof first)[number];
      expect(hung.ms).toBeGreaterThanOrEqual(OPERATION_MS - 5); // timers may fire a hair early
      expect(tokenA.state).toBe('unavailable');
      expect(tokenA.health.reason).toMatch(/did not answer/);

      // While the call is still stuck in the module, requests are refused at once (not queued behind the hang).
      const refusals: number[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await rejection(tokenA.sign(keysA.ec, ECDSA, { kind: 'message', data: Buffer.from('refused') }));
        expectApiError(r.err, 'ServiceUnavailable');
        refusals.push(r.ms);
      }
      expect(Math.max(...refusals)).toBeLessThan(50);
      await delay(500); // keep hanging a while longer: the event loop must stay free all along
      expect(fault.injected().C_Sign).toBeGreaterThanOrEqual(1);
      const lag = await probe.stop();
      expect(lag.samples).toBeGreaterThan(20);
      expect(lag.maxFireMs).toBeLessThan(50);

      fault.clear(); // the device answers again: the stuck C_Sign returns
      const recoveryMs = await waitFor(() => tokenA.isReady(), 5000, 'ready again');
      for (let i = 0; i < 3; i++) await signAndVerify(tokenA, keysA.rsa, RSA, `after the hang ${i}`);
      await signAndVerify(tokenA, keysA.ec, ECDSA, 'after the hang, EC');
      console.log(
        `hang: refused after ${hung.ms.toFixed(0)} ms; refusals while hung max ${Math.max(...refusals).toFixed(1)} ms; ` +
          `setTimeout(10) fired within max ${lag.maxFireMs.toFixed(1)} ms (${lag.samples} samples); ` +
          `ready ${recoveryMs.toFixed(0)} ms after clear`,
      );
    },
    TEST_MS,
  );

  it(
    'answers a removed device with one module re-initialisation and signs again',
    async () => {
      await signAndVerify(tokenA, keysA.rsa, RSA, 'before removal');
      const before = fault.counts();
      fault.set([`C_Sign fail CKR_DEVICE_REMOVED token=${a.label} times=1`]);

      const t0 = performance.now();
      const removed = await rejection(tokenA.sign(keysA.rsa, RSA, { kind: 'message', data: Buffer.from('gone') }));
      expectApiError(removed.err, 'ServiceUnavailable');
      expect(fault.injected().C_Sign).toBeGreaterThanOrEqual(1);
      // The re-initialisation starts synchronously with the fault: the token no longer claims to serve.
      expect(tokenA.isReady()).toBe(false);

      await waitFor(() => tokenA.isReady(), 5000, 'ready after the re-initialisation');
      const recoveryMs = performance.now() - t0;
      for (let i = 0; i < 3; i++) await signAndVerify(tokenA, keysA.rsa, RSA, `after removal ${i}`);
      await signAndVerify(tokenA, keysA.ec, ECDSA, 'after removal, EC');

      const after = fault.counts();
      expect(after.C_Initialize - before.C_Initialize).toBe(1);
      expect(after.C_Finalize - before.C_Finalize).toBe(1);
      expect(after.C_Login - before.C_Login).toBe(1); // logged in again once, after the new C_Initialize
      console.log(
        `device removed: refused in ${removed.ms.toFixed(0)} ms, serving again after ${recoveryMs.toFixed(0)} ms`,
      );
    },
    TEST_MS,
  );

  it(
    'retries a reconnect that failed during a module re-initialisation, and serves again',
    async () => {
      await signAndVerify(tokenA, keysA.rsa, RSA, 'before the failed reconnect');
      const before = fault.counts();
      // The device fault starts a re-initialisation; its reconnect then fails once (the slot list), which must be
      // retried by another re-initialisation after a pause, not left unavailable.
      fault.set([
        `C_Sign fail CKR_DEVICE_REMOVED token=${a.label} times=1`,
        'C_GetSlotList fail CKR_GENERAL_ERROR times=1',
      ]);
      const removed = await rejection(tokenA.sign(keysA.rsa, RSA, { kind: 'message', data: Buffer.from('gone') }));
      expectApiError(removed.err, 'ServiceUnavailable');
      const t0 = performance.now();
      const readyMs = await waitFor(() => tokenA.isReady(), 10000, 'ready after the failed reconnect');
      expect(fault.injected().C_GetSlotList).toBe(1);
      expect(fault.counts().C_Initialize - before.C_Initialize).toBe(2);
      for (let i = 0; i < 3; i++) await signAndVerify(tokenA, keysA.rsa, RSA, `after the retry ${i}`);
      console.log(
        `failed reconnect: serving again ${(performance.now() - t0).toFixed(0)} ms later (${readyMs.toFixed(0)})`,
      );
    },
    TEST_MS,
  );

  it(
    'keeps signing on token B while token A of the same module hangs',
    async () => {
      const tokenB = await openToken(b, faultOverrides());
      try {
        await signAndVerify(tokenB, keysB.ec, ECDSA, 'B before');
        const injected0 = fault.injected().C_Sign;
        fault.set([`C_Sign hang token=${a.label}`]);

        const hung = await rejection(tokenA.sign(keysA.ec, ECDSA, { kind: 'message', data: Buffer.from('A hangs') }));
        expectApiError(hung.err, 'ServiceUnavailable');
        expect(tokenA.state).toBe('unavailable');

        // A's call is still stuck in the module (the rule is in place) while B signs 20 times through it.
        const t0 = performance.now();
        for (let i = 0; i < 20; i++) {
          await signAndVerify(tokenB, i % 2 ? keysB.ec : keysB.rsa, i % 2 ? ECDSA : RSA, `B during A's hang ${i}`);
        }
        const bMs = performance.now() - t0;
        expect(tokenB.state).toBe('ready');
        expect(tokenA.state).toBe('unavailable');
        expect(fault.injected().C_Sign - injected0).toBe(1); // only A's call matched the rule

        fault.clear();
        await waitFor(() => tokenA.isReady(), 5000, 'A ready again');
        await signAndVerify(tokenA, keysA.ec, ECDSA, 'A after');
        console.log(`one of two: B signed 20 (RSA/EC) in ${bMs.toFixed(0)} ms while A hung`);
      } finally {
        fault.clear();
        await tokenB.close();
      }
    },
    TEST_MS,
  );

  it(
    'refuses with InvalidParameter when C_Sign fails after C_SignInit, discards that session, and signs on',
    async () => {
      await signAndVerify(tokenA, keysA.rsa, RSA, 'before');
      const before = fault.counts();
      fault.set([`C_Sign fail CKR_DATA_LEN_RANGE token=${a.label} times=1`]);

      const bad = await rejection(tokenA.sign(keysA.rsa, RSA, { kind: 'message', data: Buffer.from('input fault') }));
      expectApiError(bad.err, 'InvalidParameter');
      expect(tokenA.isReady()).toBe(true); // an input fault is not a token fault
      // The session that failed mid-operation is closed, not lent again. (The double itself ends the operation, as
      // PKCS#11 says a failing C_Sign does, so CKR_OPERATION_ACTIVE cannot prove the discard: the close count does.)
      await waitFor(() => fault.counts().C_CloseSession > before.C_CloseSession, 2000, 'the session closed');
      expect(fault.counts().C_CloseSession - before.C_CloseSession).toBe(1);

      for (let i = 0; i < 10; i++) {
        await signAndVerify(tokenA, i % 2 ? keysA.ec : keysA.rsa, i % 2 ? ECDSA : RSA, `after ${i}`);
        expect(tokenA.poolStats.live).toBeLessThanOrEqual(SESSIONS);
      }
      const after = fault.counts();
      expect(after.C_Initialize).toBe(before.C_Initialize); // no re-initialisation for an input fault
      expect(tokenA.poolStats.quarantined).toBe(0);
    },
    TEST_MS,
  );

  it(
    'reads a just-generated key pair again when its handle is stale for a moment, and destroys a pair it cannot read',
    async () => {
      const row = keySpecRow('EC_P256') as KeySpecRow;
      const labelled = (label: string): Promise<number> =>
        tokenA.admin(
          async (session, lib) => (await lib.findObjects(session, [{ type: CKA_LABEL, value: label }])).length,
        );

      // One stale answer (as SoftHSM2 gives while another process rewrites its store): read again, the pair is made.
      fault.set([`C_GetAttributeValue fail CKR_OBJECT_HANDLE_INVALID token=${a.label} times=1`]);
      const made = await generateKeyPair(tokenA, row, 'fresh-after-stale', randomBytes(16), 'sign');
      expect(made.spki.length).toBeGreaterThan(0);
      expect(fault.injected().C_GetAttributeValue).toBeGreaterThanOrEqual(1);
      fault.clear();
      expect(await labelled('fresh-after-stale')).toBe(2);

      // Every read fails: the pair the caller will never hear of is destroyed, not left on the token.
      fault.set([`C_GetAttributeValue fail CKR_DEVICE_ERROR token=${a.label}`]);
      await expect(generateKeyPair(tokenA, row, 'never-described', randomBytes(16), 'sign')).rejects.toThrow();
      fault.clear();
      await waitFor(() => tokenA.isReady(), 5000, 'token A ready after the device errors');
      expect(await labelled('never-described')).toBe(0);
    },
    TEST_MS,
  );

  // Last: it changes token A's PIN file (and marks two values refused in this process).
  it(
    'tries a refused PIN value at most once: not again after waiting, signing or a reload with the same value; a new value that meets a device fault is retried',
    async () => {
      fault.set([`C_Login fail CKR_PIN_INCORRECT token=${a.label}`]);
      const c0 = fault.counts().C_Login;

      await tokenA.recoverModule(new Error('test'));
      expect(tokenA.state).toBe('unavailable');
      expect(tokenA.health.reason).toMatch(/PIN/);
      expect(fault.counts().C_Login - c0).toBe(1);

      await delay(2000); // nothing retries the PIN by itself
      const refusals: number[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await rejection(tokenA.sign(keysA.rsa, RSA, { kind: 'message', data: Buffer.from('no login') }));
        expectApiError(r.err, 'ServiceUnavailable');
        refusals.push(r.ms);
      }
      expect(Math.max(...refusals)).toBeLessThan(50);
      expect(fault.counts().C_Login - c0).toBe(1);

      // The device would accept the PIN now, but the daemon cannot know: the same value is not tried again.
      fault.clear();
      await tokenA.reload();
      expect(fault.counts().C_Login - c0).toBe(1);
      expect(tokenA.state).toBe('unavailable');
      expect(tokenA.health.reason).toMatch(/PIN/);

      // The operator changes the PIN file (to a wrong value here: SoftHSM2 itself refuses it): tried exactly once.
      writeFileSync(a.pinFile, `${a.pin}-wrong`, { mode: 0o600 });
      await tokenA.reload();
      expect(fault.counts().C_Login - c0).toBe(2);
      expect(tokenA.state).toBe('unavailable');
      expect(tokenA.health.reason).toMatch(/PIN/);
      await tokenA.reload();
      expect(fault.counts().C_Login - c0).toBe(2);

      // The PIN is changed on the token and the operator writes the new value and reloads, but the reload's
      // reconnect meets a device fault before its C_Login (as when SoftHSM2 rewrites its file under another process's
      // login): not a verdict on the new value, so the token takes its recovery ladder and serves (it used to stay
      // "recovering" for good: the refusal of the old value was taken for the outcome).
      const newPin = `${a.pin}-new`;
      changePinElsewhere(a, a.pin, newPin);
      fault.set([`C_OpenSession fail CKR_DEVICE_ERROR token=${a.label} times=1`]);
      writeFileSync(a.pinFile, newPin, { mode: 0o600 });
      const injected0 = fault.injected().C_OpenSession;
      await tokenA.reload();
      expect(fault.injected().C_OpenSession - injected0).toBe(1);
      expect(tokenA.health.reason ?? '').not.toMatch(/PIN/);
      await waitFor(() => tokenA.isReady(), 5000, 'token A serving with the new PIN after the fault');
      expect(fault.counts().C_Login - c0).toBe(3);
      await signAndVerify(tokenA, keysA.rsa, RSA, 'the new PIN at last');
      console.log(
        `PIN: C_Login +${fault.counts().C_Login - c0} over refusal, 2 s wait, 5 signs, 3 reloads (2 with one value); ` +
          `refusals max ${Math.max(...refusals).toFixed(1)} ms`,
      );
    },
    TEST_MS,
  );
});
