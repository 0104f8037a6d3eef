import { hash } from 'node:crypto';
import type { RequestOutcome } from '../observability/requestOutcome';
import type { AuditChain } from './auditChain';
import {
  AUDITED_REFUSALS,
  LIFECYCLE_ACTIONS,
  LIFECYCLE_DETAILS,
  PRIVATE_KEY_ACTIONS,
  type PrivateKeyAction,
} from './auditedActions';

export interface RequestAuditOptions {
  /** Refuse a private-key operation's answer until its entry is written (`audit.required`). */
  readonly required: boolean;
  /** How CAS reads `MessageType=RAW` (`cas.rawMessageEncoding`): the bytes hashed are the bytes signed. */
  readonly rawMessageEncoding: () => 'utf8' | 'base64';
  readonly refusalsPerSecond: number;
  readonly refusalBurst: number;
  readonly now?: () => number;
}

/**
 * Turns completed requests into audit entries (auditedActions.ts says which). A private-key operation's entry
 * carries SHA-256 digests of its input and output, never the data. Failed operations and refusals share a token
 * bucket, so that a flood of bad requests cannot flood the log; the next admitted one counts those left out.
 */
export function requestAuditor(
  chain: AuditChain,
  o: RequestAuditOptions,
): (outcome: RequestOutcome) => Promise<void> | undefined {
  const now = o.now ?? Date.now;
  let tokens = o.refusalBurst;
  let refilled = now();
  let suppressed = 0;
  const admitFailure = (): boolean => {
    const t = now();
    tokens = Math.min(o.refusalBurst, tokens + ((t - refilled) / 1000) * o.refusalsPerSecond);
    refilled = t;
    if (tokens < 1) {
      suppressed++;
      return false;
    }
    tokens--;
    return true;
  };
  const failureFields = (): object => {
    const n = suppressed;
    suppressed = 0;
    return n > 0 ? { suppressedBefore: n } : {};
  };

  return (r) => {
    const name = `${r.product ?? '?'}:${r.action ?? '?'}`;
    const pk = PRIVATE_KEY_ACTIONS[name];
    if (r.code === undefined) {
      if (pk) {
        // Hashed and formatted with the chain's next batch, not in this request (the chain calls it in order).
        const encoding = o.rawMessageEncoding();
        const fields = (): object => privateKeyFields(r, pk, encoding);
        if (o.required) return chain.appendWritten(pk.type, fields);
        chain.append(pk.type, fields);
        return undefined;
      }
      if (LIFECYCLE_ACTIONS.has(name)) chain.append('lifecycle', lifecycleFields(r));
      return undefined;
    }
    // A failure: audited when it is a refusal of the caller, or an audited operation the server could not finish.
    const refusal = AUDITED_REFUSALS.has(r.code);
    const audited = pk !== undefined || LIFECYCLE_ACTIONS.has(name);
    if (!refusal && !(audited && r.status >= 500)) return undefined;
    if (!admitFailure()) return undefined;
    const fields = pk ? privateKeyFields(r, pk, o.rawMessageEncoding()) : audited ? lifecycleFields(r) : common(r);
    // A refusal is a `refused` entry (with the operation's facts when it was a private-key one); an audited
    // operation that failed in the server keeps its own type, with the error code as its outcome.
    const type = refusal ? 'refused' : pk ? pk.type : 'lifecycle';
    chain.append(type, { ...fields, ...failureFields() });
    return undefined;
  };
}

function common(r: RequestOutcome): Record<string, unknown> {
  return {
    requestId: r.requestId,
    accessKeyId: r.accessKeyId,
    client: r.client,
    product: r.product,
    action: r.action,
    outcome: r.code ?? 'OK',
  };
}

function privateKeyFields(
  r: RequestOutcome,
  a: PrivateKeyAction,
  rawEncoding: 'utf8' | 'base64',
): Record<string, unknown> {
  const p = r.params ?? {};
  const res = r.result ?? {};
  const messageType = str(p.MessageType) ?? a.messageType;
  const data = str(p[a.data]);
  // CAS reads a RAW message as text (or base64, by config); CAS Decrypt answers RAW with text; the rest is base64.
  const dataEncoding = r.product === 'cas' && a.type === 'sign' && messageType === 'RAW' ? rawEncoding : 'base64';
  const resultEncoding = r.product === 'cas' && a.type === 'decrypt' && messageType === 'RAW' ? 'utf8' : 'base64';
  const output = str(res[a.result]);
  // Made when the entry's batch is formatted (AuditChain), not inside the request.
  return {
    ...common(r),
    identity:
      str(p.CertIdentifier) ?? str(p.CustomIdentifier) ?? str(p.CertificateId) ?? str(res.KeyId) ?? str(p.KeyId),
    version: str(res.KeyVersionId) ?? str(p.KeyVersionId),
    algorithm: str(p.SigningAlgorithm) ?? str(p.Algorithm),
    messageType,
    dataSha256: data === undefined ? undefined : sha256(Buffer.from(data, dataEncoding)),
    resultSha256: output === undefined ? undefined : sha256(Buffer.from(output, resultEncoding)),
  };
}

function lifecycleFields(r: RequestOutcome): Record<string, unknown> {
  const p = r.params ?? {};
  const res = r.result ?? {};
  const meta = obj(res.KeyMetadata);
  const version = obj(res.KeyVersion);
  const detail: Record<string, unknown> = {};
  for (const k of LIFECYCLE_DETAILS) if (p[k] !== undefined) detail[k] = p[k];
  return {
    ...common(r),
    identity:
      str(p.CertificateId) ??
      str(res.CertificateId) ??
      str(p.KeyId) ??
      str(meta?.KeyId) ??
      str(version?.KeyId) ??
      str(p.AliasName),
    version: str(version?.KeyVersionId),
    ...(Object.keys(detail).length > 0 ? { detail } : {}),
  };
}

function sha256(b: Buffer): string {
  return hash('sha256', b, 'hex');
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
}
