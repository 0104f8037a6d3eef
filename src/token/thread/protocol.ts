/**
 * Messages between the event loop and a PKCS#11 thread (src/token/thread/pkcs11Worker.ts). Everything here is
 * structured-cloneable: Buffers arrive as Uint8Arrays and are revived by `revive` on each side.
 */

/** What a thread is asked to do. `call` runs one pkcs11js function by name; the others are composites. */
export type ThreadRequest =
  | { id: number; op: 'call'; fn: string; args: unknown[] }
  | {
      id: number;
      op: 'sign';
      session: Uint8Array;
      mechanism: unknown;
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

/** A PKCS#11 error as it crossed the thread boundary (its CKR code, when it had one). */
export interface ThreadError {
  message: string;
  code?: number;
  method?: string;
  /** True when the operation's `*Init` succeeded and its final call failed: the session may still be mid-operation. */
  operationActive?: boolean;
}

export type ThreadReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: ThreadError };

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
