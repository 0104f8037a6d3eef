import * as pkcs11 from 'pkcs11js';

/** Small readers for CK_ULONG / CK_BBOOL attribute buffers as pkcs11js returns them (native endianness). */
export function readUlong(buf: Buffer | undefined): number {
  if (!buf || buf.length === 0) return 0;
  if (buf.length >= 8) return Number(buf.readBigUInt64LE(0));
  return buf.readUInt32LE(0);
}

export function readBool(buf: Buffer | undefined): boolean {
  return !!buf && buf.length > 0 && buf[0] !== 0;
}

/** Reads the given attributes of one object; returns a map from attribute type to raw value. */
export function getAttributes(
  lib: pkcs11.PKCS11,
  session: pkcs11.Handle,
  handle: pkcs11.Handle,
  types: readonly number[],
): Map<number, Buffer> {
  const result = lib.C_GetAttributeValue(
    session,
    handle,
    types.map((type) => ({ type })),
  );
  const out = new Map<number, Buffer>();
  for (const a of result) out.set(a.type, a.value);
  return out;
}

/** All objects matching a template (C_FindObjectsInit / C_FindObjects / C_FindObjectsFinal, always finalised). */
export function findObjects(lib: pkcs11.PKCS11, session: pkcs11.Handle, template: pkcs11.Template): pkcs11.Handle[] {
  lib.C_FindObjectsInit(session, template);
  try {
    const out: pkcs11.Handle[] = [];
    for (;;) {
      const batch = lib.C_FindObjects(session, 64);
      if (batch.length === 0) break;
      out.push(...batch);
    }
    return out;
  } finally {
    lib.C_FindObjectsFinal(session);
  }
}
