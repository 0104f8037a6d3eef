import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import type { Config } from '../config/schema';
import { ApiError, invalidParameter, missingParameter } from '../errors/apiError';
import type { Logger } from '../observability/logger';
import type { RequestObservers } from '../observability/requestEvents';
import type { RequestObserver } from '../observability/requestOutcome';
import type { OperationRegistry } from '../ops/registry';
import type { OpContext, Product } from '../ops/types';
import { authenticate, type AuthDeps } from './auth/authenticate';
import { claimedAccessKeyId } from './auth/claimedAccessKey';
import { requestedFormat } from './auth/requestedFormat';
import type { NonceStore } from './auth/nonceStore';
import { clientCertificateMatches } from './clientCertificate';
import { toApiError } from './lowerFloorErrors';
import type { KeyRing } from './keyring';
import { assertPartCount, assertValueSizes } from './limits/parameterLimits';
import { actionAllowed, certificateAllowed, forbidden, warehouseAllowed } from './permissions';
import { sendError, sendSuccess, type Format } from './render';
import { isForm, parsePairs, readBody, splitUrl, type Pair } from './rpcRequest';

export interface RpcDeps {
  readonly config: Config;
  /** Handed through to the operations untouched: the api floor reaches tokens only through them. */
  readonly tokens: OpContext['tokens'];
  readonly operations: OperationRegistry;
  /** The access keys and their rates; a reload swaps them, a request keeps the snapshot it started with. */
  readonly keyring: KeyRing;
  /** The replay window: this process's cache, or the cluster primary's. */
  readonly nonces: NonceStore;
  /** Refuse requests signed at or before this time (the memory window's start; see `AuthDeps.notBefore`). */
  readonly notBefore?: number;
  readonly log: Logger;
  readonly now?: () => number;
  /** Told of every finished request (metrics): src/observability/requestEvents.ts. */
  readonly observers?: RequestObservers;
  /** Told of every completed request (the audit log): on success before the answer, which it may refuse. */
  readonly observer?: RequestObserver;
}

/** Per-request facts for the access log line (never parameter values: they may be message contents). */
interface Trace {
  requestId: string;
  accessKeyId: string | undefined;
  /** The peer of the connection (a proxy in front shows as itself). */
  clientAddress: string | undefined;
  action: string | undefined;
  /** The certificate or KMS key the operation acted on, as the request named it. */
  identity?: string;
  status: number;
  code: string | undefined;
  latencyMs: number;
  /** The client went away before the answer (status 499, as proxies log it): not a server error. */
  aborted?: true;
}

/**
 * The RPC endpoint (`/`, GET and POST) as a plain node handler: parse → authenticate → route → permissions →
 * parameters → operation → render. Every failure becomes the cloud's error envelope; the cause of a
 * non-API error is logged with the RequestId and never sent.
 */
export function createRpcHandler(deps: RpcDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const limiter = deps.keyring.limiter;
  const baseAuthDeps = {
    now: deps.now ?? Date.now,
    nonces: deps.nonces,
    maxSkewMs: deps.config.auth.maxSkewSeconds * 1000,
    allowV1WithoutNonce: deps.config.auth.allowV1WithoutNonce,
    // A store that shares rates across replicas (Redis) applies them itself, in the claim's round trip.
    ...(deps.nonces.enforcesRates === true ? {} : { admit: (id: string, now: number) => limiter.take(id, now) }),
    ...(deps.notBefore === undefined ? {} : { notBefore: deps.notBefore }),
  };
  const limits = deps.config.server.limits;
  const bodyLimit = deps.config.server.bodyLimit;
  const accountId = deps.config.server.accountId;
  const accessLog = deps.config.logging.accessLog && deps.log.isLevelEnabled('info');
  // Asked per request (a subscriber may join after the handler is made); an empty list costs one property read.
  const observers = deps.observers;

  return (req, res) => {
    const started = process.hrtime.bigint();
    const trace: Trace = {
      requestId: randomUUID().toUpperCase(),
      accessKeyId: undefined,
      clientAddress: req.socket?.remoteAddress,
      action: undefined,
      status: 200,
      code: undefined,
      latencyMs: 0,
    };
    let format: Format = 'JSON';
    // The product the request names (by its Version), known before authentication: it picks the error codes.
    let product: Product | undefined;
    let version: string | undefined;
    // The operation that ran: unlike the claimed Action, a bounded set (safe as a metric label).
    let operation: string | undefined;
    // For the observer: what the request asked, once known (parameters are never logged).
    let pairs: Pair[] = [];
    let params: Record<string, unknown> | undefined;
    const observe = (result: Record<string, unknown> | undefined): Promise<void> | undefined =>
      deps.observer?.({
        requestId: trace.requestId,
        accessKeyId: trace.accessKeyId ?? claimedAccessKeyId(req.headers, pairs),
        client: req.socket?.remoteAddress,
        product,
        action: trace.action,
        status: trace.status,
        code: trace.code,
        params,
        result,
      });
    const finish = (): void => {
      const observed = observers?.active === true;
      if (!accessLog && !observed) return;
      const ns = Number(process.hrtime.bigint() - started);
      if (accessLog) {
        trace.latencyMs = Math.round(ns / 1e3) / 1e3;
        deps.log.info(trace, 'request');
      }
      if (!observed) return;
      observers.emit({
        requestId: trace.requestId,
        product,
        action: trace.action,
        operation,
        version,
        accessKeyId: trace.accessKeyId,
        clientAddress: trace.clientAddress,
        identity: trace.identity,
        status: trace.status,
        code: trace.code,
        seconds: ns / 1e9,
      });
    };
    const fail = (e: unknown): void => {
      if (res.destroyed || req.socket?.destroyed === true) {
        // The client aborted (its request errors with ECONNRESET while we read it): nothing to answer, no stack.
        trace.status = 499;
        trace.code = undefined;
        trace.aborted = true;
        finish();
        return;
      }
      const err = toApiError(e);
      if (err.expected) {
        // Already reported once where it arose (a token unavailable since…): one debug line, not an error per request.
        deps.log.debug({ requestId: trace.requestId, reason: describeCause(err.cause ?? err) }, 'request refused');
      } else if (err.status >= 500) {
        deps.log.error(
          { requestId: trace.requestId, err: describeCause(e instanceof ApiError ? (e.cause ?? e) : e) },
          'request failed',
        );
      }
      const hostId = deps.config.server.hostId ?? req.headers.host ?? 'localhost';
      const rendered = sendError(res, format, trace.requestId, hostId, product, err);
      trace.status = rendered.status;
      trace.code = rendered.code;
      finish();
      if (deps.observer) void observe(undefined)?.catch(() => undefined);
    };
    const run = async (): Promise<void> => {
      const method = req.method ?? 'GET';
      const { path, query } = splitUrl(req.url ?? '/');
      if ((method !== 'GET' && method !== 'POST') || path !== '/') throw new ApiError('InvalidAction.NotFound');
      // One snapshot of the keys for the whole request: a reload meanwhile does not change its rules.
      const live = deps.keyring.current;
      const keys = live.keys;
      const rawBody = await readBody(req, bodyLimit);
      const bodyText = isForm(req) && rawBody.length > 0 ? rawBody.toString('utf8') : '';
      // Limits before work: counted on the raw strings, before anything is decoded or authenticated.
      assertPartCount(query, bodyText, limits);
      const queryPairs = parsePairs(query, false);
      const bodyPairs: Pair[] = bodyText.length > 0 ? parsePairs(bodyText, true) : [];
      pairs = bodyPairs.length > 0 ? queryPairs.concat(bodyPairs) : queryPairs;
      assertValueSizes(queryPairs, limits);
      assertValueSizes(bodyPairs, limits);
      format = requestedFormat(pairs);
      const claimedVersion =
        req.headers['x-acs-version'] ??
        queryPairs.find((p) => p[0] === 'Version')?.[1] ??
        bodyPairs.find((p) => p[0] === 'Version')?.[1];
      product = deps.operations.productOf(typeof claimedVersion === 'string' ? claimedVersion : undefined);
      const authDeps: AuthDeps<NonceStore> = {
        ...baseAuthDeps,
        findAccessKey: (id) => keys.get(id),
        // Admitted only after its signature verified: a throttled request is counted against its (real) key. A store
        // that enforces rates itself (Redis) admits in its claim; the key is then known from the result only.
        ...(baseAuthDeps.admit
          ? {
              admit: (id: string, now: number) => {
                trace.accessKeyId = id;
                limiter.take(id, now);
              },
            }
          : {}),
      };
      const authenticated = authenticate(
        { method, query: queryPairs, body: bodyPairs, rawBody, headers: req.headers },
        authDeps,
      );
      // Awaited only when the nonce went to the cluster primary: one process answers without a microtask.
      const auth = authenticated instanceof Promise ? await authenticated : authenticated;
      trace.accessKeyId = auth.accessKeyId;
      trace.action = auth.action;
      version = auth.version;
      const op = deps.operations.find(auth.action, auth.version);
      operation = op.action;
      const key = keys.get(auth.accessKeyId);
      if (!key) throw new ApiError('InvalidAccessKeyId.NotFound');
      if (key.clientCertificate && !clientCertificateMatches(req.socket, key.clientCertificate)) {
        throw forbidden(key, op.ramAction, accountId);
      }
      if (!actionAllowed(key.actions, op.ramAction)) throw forbidden(key, op.ramAction, accountId);
      const parsed = parseParams(op.params, auth.params);
      params = parsed as Record<string, unknown>;
      const resource = op.resource?.(parsed);
      const identity = resource ?? keyIdOf(parsed);
      if (identity !== undefined) trace.identity = identity;
      if (resource !== undefined && !certificateAllowed(key, resource)) {
        throw forbidden(key, op.ramAction, accountId, resource);
      }
      const ctx: OpContext = {
        requestId: trace.requestId,
        accessKeyId: key.id,
        tokens: deps.tokens,
        config: live.config,
        log: deps.log,
        canUse: (id) => certificateAllowed(key, id),
        canCreateIn: (warehouseId) => warehouseAllowed(key, warehouseId),
        assertCanCreateIn: (warehouseId) => {
          if (!warehouseAllowed(key, warehouseId))
            throw forbidden(key, op.ramAction, accountId, `warehouse/${warehouseId}`);
        },
        ...(key.maxCertificates === undefined ? {} : { maxCertificates: key.maxCertificates }),
        ...(key.maxKeys === undefined ? {} : { maxKeys: key.maxKeys }),
        assertCanUse: (id) => {
          if (!certificateAllowed(key, id)) throw forbidden(key, op.ramAction, accountId, id);
        },
      };
      const result = await op.handle(ctx, parsed);
      // The audit entry of a private-key operation is written before its result leaves (audit.required).
      const observed = deps.observer ? observe(result) : undefined;
      if (observed) await observed;
      sendSuccess(res, format, op.action, trace.requestId, result);
      finish();
    };
    run().catch(fail);
  };
}

/** Validates the merged parameters; the first problem becomes MissingParameter or InvalidParameter naming it. */
function parseParams<S extends z.ZodType>(schema: S, params: ReadonlyMap<string, string>): z.infer<S> {
  const r = schema.safeParse(Object.fromEntries(params));
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const name = String(issue?.path[0] ?? 'parameter');
  if (issue && issue.code === 'invalid_type' && !params.has(name)) throw missingParameter(name);
  throw invalidParameter(name, issue?.message ?? 'invalid value');
}

/** The KMS key a request names (`KeyId`: an id, an ARN or an alias, as sent), for the access log. */
function keyIdOf(params: unknown): string | undefined {
  if (params === null || typeof params !== 'object' || !('KeyId' in params)) return undefined;
  const id = (params as { KeyId: unknown }).KeyId;
  return typeof id === 'string' ? id : undefined;
}

function describeCause(e: unknown): Record<string, unknown> | string {
  if (e instanceof Error) {
    // A PKCS#11 error names the function that failed (pkcs11js's Pkcs11Error.method): the operator's first question.
    const method = (e as { method?: unknown }).method;
    const call = typeof method === 'string' && method !== '' ? { call: method } : {};
    return { type: e.name, message: e.message, ...call, stack: e.stack };
  }
  return String(e);
}
