/** How each official SDK surfaces a cloud error, normalised, and the one assertion the e2e suites make on it. */

/** How an SDK surfaced an error, normalised: the HTTP status when the SDK exposes it, and the Code. */
export interface SurfacedError {
  readonly name: string;
  readonly message: string;
  readonly statusCode?: number;
  readonly code?: string;
  readonly accessDeniedDetail?: Record<string, unknown>;
  readonly data?: Record<string, unknown>;
}

/** Runs `fn`, expecting it to reject; returns the error's SDK-level fields. Fails the test if it resolves. */
export async function sdkError(fn: () => Promise<unknown>): Promise<SurfacedError> {
  let result: unknown;
  try {
    result = await fn();
  } catch (e) {
    if (!(e instanceof Error)) throw e;
    const f = e as Error & {
      statusCode?: unknown;
      code?: unknown;
      accessDeniedDetail?: unknown;
      data?: unknown;
      entry?: { response?: { statusCode?: number } };
    };
    const statusCode = typeof f.statusCode === 'number' ? f.statusCode : f.entry?.response?.statusCode;
    return {
      name: f.name,
      message: f.message,
      ...(statusCode === undefined ? {} : { statusCode }),
      ...(typeof f.code === 'string' ? { code: f.code } : {}),
      ...(f.accessDeniedDetail && typeof f.accessDeniedDetail === 'object'
        ? { accessDeniedDetail: f.accessDeniedDetail as Record<string, unknown> }
        : {}),
      ...(f.data && typeof f.data === 'object' ? { data: f.data as Record<string, unknown> } : {}),
    };
  }
  throw new Error(`expected the call to fail, it resolved with ${JSON.stringify(result)}`);
}

/** What a refused call must show: the HTTP status and the Code always, and any other field given. */
export type ExpectedCloudError = { readonly statusCode: number; readonly code: string } & Partial<
  Omit<SurfacedError, 'statusCode' | 'code'>
>;

/**
 * Runs `fn`, expecting the daemon to refuse it with this HTTP status and Code as the SDK surfaced them (and with
 * any other field given, matched as `toMatchObject` does); returns the error for further checks. Fails the test if
 * the call succeeds.
 */
export async function expectCloudError(
  fn: () => Promise<unknown>,
  expected: ExpectedCloudError,
): Promise<SurfacedError> {
  const e = await sdkError(fn);
  expect(e).toMatchObject(expected);
  return e;
}
