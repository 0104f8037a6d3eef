/**
 * A PKCS#11 thread (node:worker_threads): one per token, with its own library instance (for some modules, such as
 * p11-kit's remoting client, an instance is its own application: its own C_Initialize, login, sessions and
 * handles). Every PKCS#11 call of the daemon runs in one of these, never on the event loop: a token that hangs (a
 * network HSM that stopped answering) blocks a thread, not the process, and the caller answers at its deadline
 * (src/token/thread/executor.ts). The expensive calls use pkcs11js's *Async forms, so they run on the libuv
 * threadpool in parallel while this thread takes the next request; a signature the token makes quickly is made
 * here inline instead, because the threadpool hop would cost more than the signature (inlineChooser.ts).
 * A request is one pkcs11js call by name, or a composite whose steps must not be split (C_SignInit + C_Sign on a
 * session: after a successful *Init the operation is finished here or reported as still active).
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as pkcs11 from 'pkcs11js';
import type { Sm2Profile } from '../../crypto/algorithms';
import { probeDecryption } from '../probe';
import { probeSm2 } from '../sm2Probe';
import { readObjects } from '../objectReader';
import { probeEcKeySpecs } from '../ecProbe';
import { InlineChooser } from './inlineChooser';
import {
  decodeSign,
  isWireSign,
  revive,
  type ThreadError,
  type ThreadRequest,
  type WireReply,
  type WireRequest,
} from './protocol';

if (!parentPort) throw new Error('pkcs11Worker runs only as a worker thread');
const port = parentPort;
const lib = new pkcs11.PKCS11();
lib.load((workerData as { modulePath: string }).modulePath);

type Fn = (...args: unknown[]) => unknown;

/**
 * A signature kind measured at most this long (C_SignInit + C_Sign, µs) is made inline. SoftHSM2 on the benchmark
 * VM: P-256 60–100 µs (inline), RSA-2048 700–900 µs (threadpool: inline, RSA would make one thread the limit).
 */
const INLINE_MAX_US = 250;
/** A kind on the threadpool is measured inline again at most this often (ms). */
const INLINE_REPROBE_MS = 2000;
const chooser = new InlineChooser(INLINE_MAX_US, INLINE_REPROBE_MS);

/** Calls that may take long run on the threadpool (their *Async form), so the thread goes on meanwhile. */
const ASYNC = new Set(['C_GenerateKeyPair', 'C_GenerateKey', 'C_Encrypt', 'C_Decrypt', 'C_Sign', 'C_Verify']);

function callByName(fn: string, args: unknown[]): unknown {
  if (!/^C_[A-Za-z]+$/.test(fn) || fn.endsWith('Async') || fn.endsWith('Callback')) {
    throw new Error(`not a synchronous PKCS#11 function: ${fn}`);
  }
  const name = ASYNC.has(fn) ? `${fn}Async` : fn;
  const f = (lib as unknown as Record<string, Fn | undefined>)[name];
  if (typeof f !== 'function') throw new Error(`unknown PKCS#11 function: ${fn}`);
  return f.apply(lib, args);
}

/** `*Init` then the one-part operation; an error after a successful Init marks the session as mid-operation. */
async function initThen(init: () => void, run: () => Promise<Buffer>): Promise<Buffer> {
  init();
  try {
    return await run();
  } catch (e) {
    throw Object.assign(e as object, { operationActive: true });
  }
}

/**
 * Signs a fast kind inline, a slow one with C_Sign on the threadpool (src/token/thread/inlineChooser.ts). Either
 * way the Init and the Sign are one step: an error after a successful C_SignInit marks the session mid-operation.
 */
function sign(r: Omit<ReturnType<typeof decodeSign>, 'id'>): Buffer | Promise<Buffer> {
  const kind = `${r.mechanism.mechanism}/${r.outLen}`;
  const mechanism = r.mechanism as pkcs11.Mechanism;
  if (!chooser.inline(kind)) {
    return initThen(
      () => lib.C_SignInit(r.session, mechanism, r.key),
      () => lib.C_SignAsync(r.session, r.data, Buffer.alloc(r.outLen)),
    );
  }
  const started = process.hrtime.bigint();
  lib.C_SignInit(r.session, mechanism, r.key);
  let signature: Buffer;
  try {
    signature = lib.C_Sign(r.session, r.data, Buffer.alloc(r.outLen));
  } catch (e) {
    throw Object.assign(e as object, { operationActive: true });
  }
  chooser.record(kind, Number(process.hrtime.bigint() - started) / 1000);
  return signature;
}

function handle(req: ThreadRequest): unknown {
  switch (req.op) {
    case 'call':
      return callByName(req.fn, req.args.map(revive));
    case 'sign':
      // RemoteLib's signatures arrive flat (protocol.ts); this form is kept for any other caller.
      return sign({
        mechanism: revive(req.mechanism) as pkcs11.Mechanism,
        outLen: req.outLen,
        session: revive(req.session) as Buffer,
        key: revive(req.key) as Buffer,
        data: revive(req.data) as Buffer,
      });
    case 'decrypt': {
      const session = revive(req.session) as Buffer;
      return initThen(
        () => lib.C_DecryptInit(session, revive(req.mechanism) as pkcs11.Mechanism, revive(req.key) as Buffer),
        () => lib.C_DecryptAsync(session, revive(req.data) as Buffer, Buffer.alloc(req.outLen)),
      );
    }
    case 'findObjects': {
      const session = revive(req.session) as Buffer;
      lib.C_FindObjectsInit(session, revive(req.template) as pkcs11.Template);
      try {
        const out: Buffer[] = [];
        for (;;) {
          const batch = lib.C_FindObjects(session, 64);
          if (batch.length === 0) return out;
          out.push(...batch);
        }
      } finally {
        lib.C_FindObjectsFinal(session);
      }
    }
    case 'readObjects':
      return readObjects(lib, revive(req.session) as Buffer, req.label);
    case 'probe': {
      const slot = revive(req.slot) as Buffer;
      const mechanisms = new Set(req.mechanisms);
      const sm2 = req.sm2 ? probeSm2(lib, slot, mechanisms, revive(req.sm2) as Sm2Profile) : undefined;
      return {
        decryption: probeDecryption(lib, slot, mechanisms),
        sm2,
        ecKeySpecs: probeEcKeySpecs(lib, slot, mechanisms),
      };
    }
  }
}

function asThreadError(e: unknown): ThreadError {
  const err = e as { message?: unknown; code?: unknown; method?: unknown; operationActive?: unknown };
  return {
    message: typeof err.message === 'string' ? err.message : String(e),
    ...(typeof err.code === 'number' ? { code: err.code } : {}),
    ...(typeof err.method === 'string' ? { method: err.method } : {}),
    ...(err.operationActive === true ? { operationActive: true } : {}),
  };
}

/** Replies ready now, sent as one message at the end of this turn (completions of one turn travel together). */
let outgoing: WireReply[] = [];
let flushScheduled = false;

function flush(): void {
  flushScheduled = false;
  if (outgoing.length === 0) return;
  const batch = outgoing;
  outgoing = [];
  port.postMessage(batch);
}

function reply(r: WireReply): void {
  outgoing.push(r);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
}

function settle(id: number, run: () => unknown): void {
  let result: unknown;
  try {
    result = run();
  } catch (e) {
    reply([id, undefined, asThreadError(e)]);
    return;
  }
  // Synchronous calls answer now; *Async ones when the threadpool is done (meanwhile this thread goes on).
  if (result instanceof Promise) {
    result.then(
      (value: unknown) => reply([id, value]),
      (e: unknown) => reply([id, undefined, asThreadError(e)]),
    );
  } else {
    reply([id, result]);
  }
}

port.on('message', (batch: WireRequest[]) => {
  for (const req of batch) {
    if (isWireSign(req)) {
      const r = decodeSign(req);
      settle(r.id, () => sign(r));
    } else {
      settle(req.id, () => handle(req));
    }
  }
  // The answers to this batch leave now, not after the loop's next turn.
  flush();
});
