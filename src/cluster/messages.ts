/**
 * The IPC between the cluster primary and its workers (node:cluster's channel, JSON). Every message carries
 * `p11bridge` so other traffic on the channel (node's own, a benchmark's) is ignored.
 */

/** Nonce claims of one worker event-loop turn: `claims` is flat `[accessKeyId, nonce, accessKeyId, nonce, …]`. */
export interface NonceClaimsMessage {
  p11bridge: 'nonces';
  id: number;
  claims: string[];
  /** The request time of each claim, ms since the epoch. */
  at: number[];
}

/**
 * The primary's answer, one character per claim: `y` fresh (recorded), `n` seen before, `f` window full,
 * `t` the key holds its full share of the window (then `retryAfterMs` says when some of it frees).
 */
export interface NonceResultsMessage {
  p11bridge: 'nonces';
  id: number;
  results: string;
  retryAfterMs?: number;
}

/** A worker is serving (or could not start: the primary stops and reports the message). */
export interface WorkerStateMessage {
  p11bridge: 'listening' | 'failed';
  port?: number;
  message?: string;
}

/**
 * A worker changed a token's objects (CreateCertificate, UpdateCertificateStatus, …): the primary passes it to
 * the other workers, which re-read that token's index.
 */
export interface ReindexMessage {
  p11bridge: 'reindex';
  token: string;
  /** The identity that changed, when one did. */
  id?: string;
}

/** A worker asks the primary's login gate whether it may try a PIN value (a keyed fingerprint, never the PIN). */
export interface LoginAskMessage {
  p11bridge: 'login?';
  id: number;
  token: string;
  fingerprint: string;
}

/** The gate's answer. */
export interface LoginAnswerMessage {
  p11bridge: 'login?';
  id: number;
  allow: boolean;
}

/** The outcome of a login the gate allowed. */
export interface LoginOutcomeMessage {
  p11bridge: 'login!';
  token: string;
  fingerprint: string;
  ok: boolean;
}

/** A worker's event loop is alive (sent every second; a silent worker is stuck and gets replaced). */
export interface HeartbeatMessage {
  p11bridge: 'heartbeat';
  /** True while at least one of its tokens serves. */
  serving: boolean;
}

/**
 * Reload (issue 16): the primary has re-read and validated the config and sends it to every worker, which
 * applies it (`daemon.reload`) and answers with `reloaded`.
 */
export interface ReloadMessage {
  p11bridge: 'reload';
  id: number;
  /** The validated config (secret references only, no values). */
  config: unknown;
}

/** A worker's answer to {@link ReloadMessage}: applied, or the one-line reason it kept its running config. */
export interface ReloadedMessage {
  p11bridge: 'reloaded';
  id: number;
  ok: boolean;
  message?: string;
}

export type WorkerMessage =
  | NonceClaimsMessage
  | WorkerStateMessage
  | ReindexMessage
  | ReloadedMessage
  | LoginAskMessage
  | LoginOutcomeMessage
  | HeartbeatMessage;

function tagged(m: unknown): m is { p11bridge: unknown } {
  return typeof m === 'object' && m !== null && 'p11bridge' in m;
}

export function isNonceClaims(m: unknown): m is NonceClaimsMessage {
  return (
    tagged(m) &&
    m.p11bridge === 'nonces' &&
    'claims' in m &&
    Array.isArray(m.claims) &&
    'at' in m &&
    Array.isArray(m.at) &&
    'id' in m &&
    typeof m.id === 'number'
  );
}

export function isNonceResults(m: unknown): m is NonceResultsMessage {
  return tagged(m) && m.p11bridge === 'nonces' && 'results' in m && typeof m.results === 'string';
}

export function isWorkerState(m: unknown): m is WorkerStateMessage {
  return tagged(m) && (m.p11bridge === 'listening' || m.p11bridge === 'failed');
}

export function isReindex(m: unknown): m is ReindexMessage {
  return tagged(m) && m.p11bridge === 'reindex' && 'token' in m && typeof m.token === 'string';
}

export function isLoginAsk(m: unknown): m is LoginAskMessage {
  return (
    tagged(m) &&
    m.p11bridge === 'login?' &&
    'token' in m &&
    typeof m.token === 'string' &&
    'fingerprint' in m &&
    typeof m.fingerprint === 'string' &&
    'id' in m &&
    typeof m.id === 'number'
  );
}

export function isLoginAnswer(m: unknown): m is LoginAnswerMessage {
  return tagged(m) && m.p11bridge === 'login?' && 'allow' in m && typeof m.allow === 'boolean' && 'id' in m;
}

export function isLoginOutcome(m: unknown): m is LoginOutcomeMessage {
  return (
    tagged(m) &&
    m.p11bridge === 'login!' &&
    'token' in m &&
    typeof m.token === 'string' &&
    'fingerprint' in m &&
    typeof m.fingerprint === 'string' &&
    'ok' in m &&
    typeof m.ok === 'boolean'
  );
}

export function isHeartbeat(m: unknown): m is HeartbeatMessage {
  return tagged(m) && m.p11bridge === 'heartbeat';
}

export function isReload(m: unknown): m is ReloadMessage {
  return tagged(m) && m.p11bridge === 'reload' && 'id' in m && typeof m.id === 'number' && 'config' in m;
}

export function isReloaded(m: unknown): m is ReloadedMessage {
  return tagged(m) && m.p11bridge === 'reloaded' && 'id' in m && typeof m.id === 'number' && 'ok' in m;
}
