import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import * as pkcs11 from 'pkcs11js';
import { encodeSign, revive, type ThreadError, type ThreadRequest, type WireReply, type WireRequest } from './protocol';

/** A request without its id (the thread numbers them). */
export type ThreadCall = ThreadRequest extends infer R ? (R extends ThreadRequest ? Omit<R, 'id'> : never) : never;

/**
 * The compiled worker entry. Under ts-jest the sources run from src/, where there is no .js: the build in dist/
 * (made by scripts/bootstrap.sh before any test) provides it.
 */
function workerEntry(): string {
  const beside = join(__dirname, 'pkcs11Worker.js');
  if (existsSync(beside)) return beside;
  const built = resolve(__dirname, '..', '..', '..', 'dist', 'token', 'thread', 'pkcs11Worker.js');
  if (existsSync(built)) return built;
  throw new Error(`the PKCS#11 thread entry is not built (${built}): run "npm run build"`);
}

/** A PKCS#11 error that crossed from a thread: the pkcs11js class, with the CKR code, and whether an op is active. */
function toPkcs11Error(e: ThreadError): Error {
  if (e.code === undefined) return new Error(e.message);
  const err = new pkcs11.Pkcs11Error(e.message, e.code, e.method ?? '');
  if (e.operationActive) Object.assign(err, { operationActive: true });
  return err;
}

/** True when a failed sign/decrypt left its session mid-operation (the session must be discarded). */
export function leftOperationActive(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { operationActive?: unknown }).operationActive === true;
}

/**
 * One PKCS#11 thread. Requests are answered in any order (a signature runs on the libuv threadpool while the thread
 * takes the next request); a request blocked in a synchronous module call holds up the thread's later ones, which
 * the executor's deadlines answer. The thread keeps the process alive only while it has work.
 */
export class Pkcs11Thread {
  readonly #worker: Worker;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  /** Requests of this event-loop turn, not sent yet. */
  #outgoing: WireRequest[] = [];
  #dead = false;
  /** Told when the thread dies (an uncaught error in it, or terminate()). */
  onExit: ((err: Error) => void) | undefined;

  constructor(modulePath: string) {
    this.#worker = new Worker(workerEntry(), { workerData: { modulePath } });
    this.#worker.unref();
    this.#worker.on('message', (batch: WireReply[]) => {
      for (const reply of batch) this.#settle(reply);
      if (this.#pending.size === 0) this.#worker.unref();
    });
    const die = (err: Error): void => {
      if (this.#dead) return;
      this.#dead = true;
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
      this.onExit?.(err);
    };
    this.#worker.on('error', (e) => die(e));
    this.#worker.on('exit', (code) => die(new Error(`PKCS#11 thread exited (code ${code})`)));
  }

  /** Requests sent and not answered yet. */
  get pending(): number {
    return this.#pending.size;
  }
  get dead(): boolean {
    return this.#dead;
  }

  /**
   * Runs one request; settles when the thread answers (deadlines are the executor's business). The requests of one
   * event-loop turn leave together, at its end.
   */
  run(call: ThreadCall): Promise<unknown> {
    if (this.#dead) return Promise.reject(new Error('PKCS#11 thread is gone'));
    const id = this.#nextId++;
    return new Promise<unknown>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      if (this.#pending.size === 1) this.#worker.ref();
      this.#outgoing.push(call.op === 'sign' ? encodeSign({ ...call, id }) : { ...call, id });
      if (this.#outgoing.length === 1) setImmediate(this.#flush);
    });
  }

  readonly #flush = (): void => {
    const batch = this.#outgoing;
    this.#outgoing = [];
    if (this.#dead || batch.length === 0) return;
    this.#worker.postMessage(batch);
  };

  #settle(reply: WireReply): void {
    const id = reply[0];
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    if (reply.length === 3) p.reject(toPkcs11Error(reply[2]));
    else p.resolve(revive(reply[1]));
  }

  /** Stops the thread (a thread blocked inside the module exits when its call returns). */
  terminate(): void {
    this.#dead = true;
    void this.#worker.terminate().catch(() => undefined);
  }
}
