/**
 * The one hook on the request path that metrics and the audit log share: the RPC handler builds a
 * {@link RequestRecord} when it has answered (or the client went away) and hands it to every subscriber, in order,
 * synchronously. A subscriber keeps its own work small (a counter, a queued line) and never throws into the
 * request: an exception is swallowed here so that an observer can never change an answer.
 */
export interface RequestRecord {
  readonly requestId: string;
  /** `kms`, `cas`, or undefined when the request named no product we serve (its Version was unknown or missing). */
  readonly product: string | undefined;
  /** The Action the request claimed (authenticated), for logs; may name no operation we have. */
  readonly action: string | undefined;
  /** The operation that ran (a known Action): the only action safe as a metric label (bounded). */
  readonly operation: string | undefined;
  readonly version: string | undefined;
  /** The authenticated AccessKeyId; also set when the key was throttled (admitted after its signature verified). */
  readonly accessKeyId: string | undefined;
  /** The peer address of the connection (a proxy in front shows as itself). */
  readonly clientAddress: string | undefined;
  /** The certificate identifier or KMS key the operation acted on, when it names one. */
  readonly identity: string | undefined;
  /** HTTP status sent (499: the client went away first). */
  readonly status: number;
  /** The cloud error Code sent; undefined on success. */
  readonly code: string | undefined;
  /** Wall time from the first byte handled to the answer written. */
  readonly seconds: number;
}

/** Receives every finished RPC request. */
export type RequestObserver = (record: RequestRecord) => void;

/** The subscribers of finished requests (one list per daemon, injected: never a global). */
export class RequestObservers {
  readonly #observers: RequestObserver[] = [];

  /** Adds a subscriber; it is called after every request from then on, in subscription order. */
  subscribe(observer: RequestObserver): void {
    this.#observers.push(observer);
  }

  /** True when someone listens (the handler skips building a record otherwise). */
  get active(): boolean {
    return this.#observers.length > 0;
  }

  /** Hands a record to every subscriber; a subscriber's exception is dropped (it must not change the answer). */
  emit(record: RequestRecord): void {
    for (const o of this.#observers) {
      try {
        o(record);
      } catch {
        // An observer's bug must not turn a signed answer into an error; its own tests catch it.
      }
    }
  }
}
