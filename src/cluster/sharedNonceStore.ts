import { ApiError } from '../errors/apiError';
import type { NonceStore } from '../api/auth/nonceStore';
import { SHARE_FULL_MESSAGE, WINDOW_FULL_MESSAGE } from '../api/auth/replayCache';
import type { NonceClaimsMessage, NonceResultsMessage } from './messages';

interface Waiter {
  resolve(fresh: boolean): void;
  reject(e: unknown): void;
}

/** How long a worker waits for the primary's answer before failing the requests (the primary is gone or stuck). */
const DEFAULT_CLAIM_TIMEOUT_MS = 5_000;

/**
 * A worker's view of the replay window, which the cluster primary holds for every worker: a replayed request
 * is refused whichever worker's connection it arrives on. The claims of one event-loop turn travel as one
 * message (`setImmediate` runs after the turn's requests were parsed), so IPC costs a few µs per request.
 */
export class SharedNonceStore implements NonceStore {
  readonly #send: (message: NonceClaimsMessage) => void;
  readonly #timeoutMs: number;
  #claims: string[] = [];
  #at: number[] = [];
  #waiters: Waiter[] = [];
  #scheduled = false;
  #nextId = 1;
  readonly #inFlight = new Map<number, { waiters: Waiter[]; timer: NodeJS.Timeout }>();
  #closed: Error | undefined;

  constructor(send: (message: NonceClaimsMessage) => void, timeoutMs = DEFAULT_CLAIM_TIMEOUT_MS) {
    this.#send = send;
    this.#timeoutMs = timeoutMs;
  }

  checkAndRecord(accessKeyId: string, nonce: string, now: number): Promise<boolean> {
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise<boolean>((resolve, reject) => {
      this.#claims.push(accessKeyId, nonce);
      this.#at.push(now);
      this.#waiters.push({ resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  /** Settles the requests of one answered message. */
  receive(message: NonceResultsMessage): void {
    const entry = this.#inFlight.get(message.id);
    if (!entry) return;
    this.#inFlight.delete(message.id);
    clearTimeout(entry.timer);
    entry.waiters.forEach((w, i) => {
      const r = message.results[i];
      if (r === 'y') w.resolve(true);
      else if (r === 'n') w.resolve(false);
      else if (r === 'f') w.reject(new ApiError('ServiceUnavailable', WINDOW_FULL_MESSAGE));
      else if (r === 't')
        w.reject(
          new ApiError('Throttling.User', SHARE_FULL_MESSAGE, {
            headers: { 'x-acs-retry-after': String(message.retryAfterMs ?? 1000) },
          }),
        );
      else w.reject(unreachable(new Error('the cluster primary answered a nonce claim without a result')));
    });
  }

  /** Fails every waiting and later claim (the channel to the primary is gone). */
  close(reason = 'the channel to the cluster primary closed'): void {
    this.#closed = unreachable(new Error(reason));
    for (const [id, entry] of this.#inFlight) {
      clearTimeout(entry.timer);
      this.#inFlight.delete(id);
      for (const w of entry.waiters) w.reject(this.#closed);
    }
  }

  #flush(): void {
    this.#scheduled = false;
    const id = this.#nextId++;
    const waiters = this.#waiters;
    const message: NonceClaimsMessage = { p11bridge: 'nonces', id, claims: this.#claims, at: this.#at };
    this.#claims = [];
    this.#at = [];
    this.#waiters = [];
    if (this.#closed) {
      for (const w of waiters) w.reject(this.#closed);
      return;
    }
    const timer = setTimeout(() => {
      if (!this.#inFlight.delete(id)) return;
      const e = unreachable(new Error(`the cluster primary did not answer a nonce claim within ${this.#timeoutMs} ms`));
      for (const w of waiters) w.reject(e);
    }, this.#timeoutMs);
    timer.unref();
    this.#inFlight.set(id, { waiters, timer });
    try {
      this.#send(message);
    } catch (e) {
      clearTimeout(timer);
      this.#inFlight.delete(id);
      for (const w of waiters) w.reject(unreachable(e));
    }
  }
}

/**
 * Without the primary no nonce can be checked, so no request is accepted: a retryable 503 for the client, the
 * cause for the log (rpcHandler logs the cause of every 5xx).
 */
function unreachable(cause: unknown): ApiError {
  if (cause instanceof ApiError) return cause;
  return new ApiError('ServiceUnavailable', 'The replay-protection window is not reachable; retry later.', { cause });
}
