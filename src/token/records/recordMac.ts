import * as pkcs11 from 'pkcs11js';
import { readBool } from '../attributes';
import type { RemoteLib } from '../remoteLib';

/**
 * The token key that authenticates the records of a record file (decision 0031): a generic secret generated IN the
 * token (CKM_GENERIC_SECRET_KEY_GEN), sensitive and never extractable, used only for CKM_SHA256_HMAC. Each token
 * makes its own, so a record copied from another token's file does not verify here.
 */
export const RECORD_KEY_LABEL = 'p11bridge-record-mac';

const MAC_LENGTH = 32;
const DOMAIN = Buffer.from('p11bridge-record/1\0', 'utf8');

function lengthPrefixed(b: Buffer): Buffer {
  const n = Buffer.alloc(4);
  n.writeUInt32BE(b.length);
  return Buffer.concat([n, b]);
}

/**
 * What the MAC of a record covers: a domain tag, then application, label and value, each length-prefixed, so that
 * no record can be turned into another by moving bytes between fields (a record relabelled to another identity, or
 * moved to the other application, fails).
 */
export function macInput(application: string, label: string, value: Buffer): Buffer {
  return Buffer.concat([
    DOMAIN,
    lengthPrefixed(Buffer.from(application, 'utf8')),
    lengthPrefixed(Buffer.from(label, 'utf8')),
    lengthPrefixed(value),
  ]);
}

const FILE_DOMAIN = Buffer.from('p11bridge-record-file/1\0', 'utf8');

/**
 * What the MAC of a whole record file covers: its generation and, in a fixed order, each record's application,
 * label and MAC. A record added, removed, swapped for an older one or relabelled changes it; a record's value is
 * covered by its own MAC, so an edited value refuses that record alone.
 */
export function fileMacInput(
  generation: number,
  records: ReadonlyArray<{ application: string; label: string; mac: Buffer }>,
): Buffer {
  const g = Buffer.alloc(8);
  g.writeBigUInt64BE(BigInt(generation));
  const sorted = [...records].sort((a, b) =>
    a.application === b.application ? compare(a.label, b.label) : compare(a.application, b.application),
  );
  return Buffer.concat([
    FILE_DOMAIN,
    g,
    ...sorted.flatMap((r) => [
      lengthPrefixed(Buffer.from(r.application, 'utf8')),
      lengthPrefixed(Buffer.from(r.label, 'utf8')),
      lengthPrefixed(r.mac),
    ]),
  ]);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The record key is missing or ambiguous: no record can be authenticated (every identity is refused). */
export class RecordKeyProblem extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordKeyProblem';
  }
}

/** The record key's handle; throws RecordKeyProblem when the token holds none or more than one. */
export async function findRecordKey(session: pkcs11.Handle, lib: RemoteLib): Promise<pkcs11.Handle> {
  return checkedRecordKey(session, lib, await findRecordKeys(session, lib));
}

function findRecordKeys(session: pkcs11.Handle, lib: RemoteLib): Promise<pkcs11.Handle[]> {
  return lib.findObjects(session, [
    { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_SECRET_KEY },
    { type: pkcs11.CKA_LABEL, value: RECORD_KEY_LABEL },
  ]);
}

/** The one record key among `found`, usable; RecordKeyProblem otherwise. */
async function checkedRecordKey(
  session: pkcs11.Handle,
  lib: RemoteLib,
  found: pkcs11.Handle[],
): Promise<pkcs11.Handle> {
  if (found.length > 1) {
    throw new RecordKeyProblem(`${found.length} keys on the token carry the label ${RECORD_KEY_LABEL}`);
  }
  const key = found[0];
  if (!key) throw new RecordKeyProblem(`the token holds no record key (${RECORD_KEY_LABEL})`);
  // A key that could leave the token would let whoever read it forge records: never used.
  const a = await lib.getAttributes(session, key, [pkcs11.CKA_SENSITIVE, pkcs11.CKA_EXTRACTABLE]);
  if (!readBool(a.get(pkcs11.CKA_SENSITIVE)) || readBool(a.get(pkcs11.CKA_EXTRACTABLE))) {
    throw new RecordKeyProblem(`the record key ${RECORD_KEY_LABEL} is extractable or not sensitive: not used`);
  }
  return key;
}

/**
 * The record key, generated in the token when there is none. The caller holds the record file's lock, so two
 * processes never make two keys.
 */
export async function ensureRecordKey(session: pkcs11.Handle, lib: RemoteLib): Promise<pkcs11.Handle> {
  // One find decides: a second one could disagree with it (SoftHSM2 beside another writing process, decision 0032).
  const found = await findRecordKeys(session, lib);
  if (found.length > 0) return checkedRecordKey(session, lib, found);
  await lib.call<pkcs11.Handle>('C_GenerateKey', [
    session,
    { mechanism: pkcs11.CKM_GENERIC_SECRET_KEY_GEN },
    [
      { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_SECRET_KEY },
      { type: pkcs11.CKA_KEY_TYPE, value: pkcs11.CKK_GENERIC_SECRET },
      { type: pkcs11.CKA_VALUE_LEN, value: MAC_LENGTH },
      { type: pkcs11.CKA_TOKEN, value: true },
      { type: pkcs11.CKA_PRIVATE, value: true },
      { type: pkcs11.CKA_SENSITIVE, value: true },
      { type: pkcs11.CKA_EXTRACTABLE, value: false },
      { type: pkcs11.CKA_SIGN, value: true },
      { type: pkcs11.CKA_VERIFY, value: true },
      { type: pkcs11.CKA_ENCRYPT, value: false },
      { type: pkcs11.CKA_DECRYPT, value: false },
      { type: pkcs11.CKA_WRAP, value: false },
      { type: pkcs11.CKA_UNWRAP, value: false },
      { type: pkcs11.CKA_DERIVE, value: false },
      { type: pkcs11.CKA_LABEL, value: RECORD_KEY_LABEL },
      { type: pkcs11.CKA_ID, value: generationId(0) },
    ],
  ]);
  return findRecordKey(session, lib);
}

/** CKA_ID of the record key: the generation of the last record file written (8 octets, big-endian). */
function generationId(generation: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(generation));
  return b;
}

/**
 * The generation of the last record file written, as the token keeps it (the record key's CKA_ID: the one value a
 * file cannot take back). A writer raises it after the new file is in place, so a reader that reads it BEFORE the
 * file never sees a file older than it, unless the file was rolled back.
 */
export async function tokenGeneration(session: pkcs11.Handle, lib: RemoteLib, key: pkcs11.Handle): Promise<number> {
  const id = (await lib.getAttributes(session, key, [pkcs11.CKA_ID])).get(pkcs11.CKA_ID) ?? Buffer.alloc(0);
  if (id.length !== 8) throw new RecordKeyProblem(`the record key ${RECORD_KEY_LABEL} carries no generation`);
  return Number(id.readBigUInt64BE(0));
}

/** Records `generation` as the last one written (after the file of that generation is in place). */
export async function setTokenGeneration(
  session: pkcs11.Handle,
  lib: RemoteLib,
  key: pkcs11.Handle,
  generation: number,
): Promise<void> {
  await lib.call('C_SetAttributeValue', [session, key, [{ type: pkcs11.CKA_ID, value: generationId(generation) }]]);
}

/** CKM_SHA256_HMAC of a whole file's fileMacInput, computed in the token. */
export function fileMac(
  session: pkcs11.Handle,
  lib: RemoteLib,
  key: pkcs11.Handle,
  state: { generation: number; records: ReadonlyArray<{ application: string; label: string; mac: Buffer }> },
): Promise<Buffer> {
  return lib.sign(
    session,
    { mechanism: pkcs11.CKM_SHA256_HMAC },
    key,
    fileMacInput(state.generation, state.records),
    MAC_LENGTH,
  );
}

/** CKM_SHA256_HMAC of a record's macInput, computed in the token. */
export function recordMac(
  session: pkcs11.Handle,
  lib: RemoteLib,
  key: pkcs11.Handle,
  application: string,
  label: string,
  value: Buffer,
): Promise<Buffer> {
  return lib.sign(session, { mechanism: pkcs11.CKM_SHA256_HMAC }, key, macInput(application, label, value), MAC_LENGTH);
}
