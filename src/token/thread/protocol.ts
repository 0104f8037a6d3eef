/**
 * Messages between the event loop and a PKCS#11 thread (src/token/thread/pkcs11Worker.ts). Everything here is
 * structured-cloneable: Buffers arrive as Uint8Arrays and are revived by `revive` on each side.
 *
 * The requests of one event-loop turn travel as one message (an array), and so do the replies the thread has
 * ready at once. Signatures, the hot path, travel as flat arrays with one byte array (session and key handles and
 * the data): cloning an object with three Buffers costs about three times as much CPU, and a Buffer that is a view
 * of Node's 8 KiB allocation pool (a decoded base64 message) is cloned with the whole pool.
 */

/** What a thread is asked to do. `call` runs one pkcs11js function by name; the others are composites. */
export type ThreadRequest =
  | { id: number; op: 'call'; fn: string; args: unknown[] }
  | {
      id: number;
      op: 'sign';
      session: Uint8Array;
      mechanism: { mechanism: number; parameter?: unknown };
      key: Uint8Array;
      data: Uint8Array;
      outLen: number;
    }
  | {
      id: number;
      op: 'decrypt';
      session: Uint8Array;
      mechanism: unknown;
      key: Uint8Array;
      data: Uint8Array;
      outLen: number;
    }
  | { id: number; op: 'findObjects'; session: Uint8Array; template: unknown }
  | { id: number; op: 'readObjects'; session: Uint8Array; label?: string }
  | { id: number; op: 'probe'; slot: Uint8Array; mechanisms: number[]; sm2?: unknown };

export type SignRequest = Extract<ThreadRequest, { op: 'sign' }>;

/**
 * A signature request on the wire: id, mechanism, its parameter (PSS) or null, output length, session handle
 * length, key handle length, then session ‖ key ‖ data in one byte array.
 */
export type WireSign = [number, number, unknown, number, number, number, Uint8Array];

/** One request on the wire: a signature (flat) or any other request (as is). */
export type WireRequest = WireSign | ThreadRequest;

/** A PKCS#11 error as it crossed the thread boundary (its CKR code, when it had one). */
export interface ThreadError {
  message: string;
  code?: number;
  method?: string;
  /** True when the operation's `*Init` succeeded and its final call failed: the session may still be mid-operation. */
  operationActive?: boolean;
}

/** One reply on the wire: `[id, value]` on success, `[id, undefined, error]` on failure. */
export type WireReply = [number, unknown] | [number, undefined, ThreadError];

/** Encodes a signature request (see {@link WireSign}). */
export function encodeSign(r: SignRequest): WireSign {
  const bytes = new Uint8Array(r.session.length + r.key.length + r.data.length);
  bytes.set(r.session, 0);
  bytes.set(r.key, r.session.length);
  bytes.set(r.data, r.session.length + r.key.length);
  const parameter = r.mechanism.parameter === undefined ? null : r.mechanism.parameter;
  return [r.id, r.mechanism.mechanism, parameter, r.outLen, r.session.length, r.key.length, bytes];
}

/** The parts of a signature request, as Buffers over the received bytes (no copy). */
export function decodeSign(w: WireSign): {
  id: number;
  mechanism: { mechanism: number; parameter?: unknown };
  outLen: number;
  session: Buffer;
  key: Buffer;
  data: Buffer;
} {
  const [id, mechanism, parameter, outLen, sessionLen, keyLen, bytes] = w;
  const at = (start: number, end: number): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start);
  return {
    id,
    mechanism: parameter === null ? { mechanism } : { mechanism, parameter: revive(parameter) },
    outLen,
    session: at(0, sessionLen),
    key: at(sessionLen, sessionLen + keyLen),
    data: at(sessionLen + keyLen, bytes.length),
  };
}

/** True for a flat signature request. */
export function isWireSign(w: WireRequest): w is WireSign {
  return Array.isArray(w);
}

/** Turns the Uint8Arrays of a cloned value back into Buffers (pkcs11js returns and accepts Buffers). */
export function revive(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (Array.isArray(value)) return value.map(revive);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = revive(v);
    return out;
  }
  return value;
}
