/**
 * What the RPC handler tells an observer (the audit log, metrics) when a request completes. The handler calls
 * {@link RequestObserver} once per request, with facts only: parameters and results are handed over so an observer
 * can hash what it needs, and must never be logged (they carry message contents).
 */
export interface RequestOutcome {
  readonly requestId: string;
  /** The authenticated AccessKeyId, or the one a refused request claimed (undefined when none could be read). */
  readonly accessKeyId: string | undefined;
  /** The peer's address (the TCP connection's; a proxy in front hides the client). */
  readonly client: string | undefined;
  /** `kms` or `cas` when the request named a served Version. */
  readonly product: string | undefined;
  readonly action: string | undefined;
  /** HTTP status of the answer (200 on success). */
  readonly status: number;
  /** The product error code of the answer; undefined on success. */
  readonly code: string | undefined;
  /** The operation's validated parameters, once they were parsed. */
  readonly params: Readonly<Record<string, unknown>> | undefined;
  /** The operation's response fields, on success. */
  readonly result: Readonly<Record<string, unknown>> | undefined;
}

/**
 * Called by the RPC handler at completion. On success it runs before the answer is written: a returned promise
 * holds the answer until it settles, and a rejection (an `ApiError`) replaces the answer with that error; this is
 * how `audit.required` refuses a signature whose audit entry could not be written. On failure it runs after the
 * error was written and its result is ignored. Synchronous and cheap unless it has to wait.
 */
export type RequestObserver = (outcome: RequestOutcome) => Promise<void> | undefined;
