/**
 * The fault token (softhsm/fault-token): a PKCS#11 TEST DOUBLE that forwards every call to SoftHSM2 and, on
 * command from the test, fails, delays or hangs chosen calls; it counts calls per function across processes.
 * This helper writes its control file and reads its counts file (formats: softhsm/fault-token/README.md).
 *
 * Two ways to point a module at a control:
 * - a child process (a daemon, a cluster): pass `control.env` in its environment and `faultTokenModule()` as the
 *   token's `module` in its config;
 * - this Jest worker: the native module cannot see a suite's `process.env` (Jest gives each file a copy), so
 *   globalSetup gave every worker per-process paths, and `createFaultControl` links them to its own files. The
 *   module loaded here obeys the most recently created control from its next C_Initialize on.
 */
import type { TokenConfig } from '../../src/config/schema';
import { closeSync, mkdirSync, openSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { utimesSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { SOFTHSM_MODULE } from '../../src/cli/softhsm';

/** CK_FUNCTION_LIST order (PKCS#11 2.40 §5): the order of the module's counters. */
const PKCS11_FUNCTIONS = [
  'C_Initialize',
  'C_Finalize',
  'C_GetInfo',
  'C_GetFunctionList',
  'C_GetSlotList',
  'C_GetSlotInfo',
  'C_GetTokenInfo',
  'C_GetMechanismList',
  'C_GetMechanismInfo',
  'C_InitToken',
  'C_InitPIN',
  'C_SetPIN',
  'C_OpenSession',
  'C_CloseSession',
  'C_CloseAllSessions',
  'C_GetSessionInfo',
  'C_GetOperationState',
  'C_SetOperationState',
  'C_Login',
  'C_Logout',
  'C_CreateObject',
  'C_CopyObject',
  'C_DestroyObject',
  'C_GetObjectSize',
  'C_GetAttributeValue',
  'C_SetAttributeValue',
  'C_FindObjectsInit',
  'C_FindObjects',
  'C_FindObjectsFinal',
  'C_EncryptInit',
  'C_Encrypt',
  'C_EncryptUpdate',
  'C_EncryptFinal',
  'C_DecryptInit',
  'C_Decrypt',
  'C_DecryptUpdate',
  'C_DecryptFinal',
  'C_DigestInit',
  'C_Digest',
  'C_DigestUpdate',
  'C_DigestKey',
  'C_DigestFinal',
  'C_SignInit',
  'C_Sign',
  'C_SignUpdate',
  'C_SignFinal',
  'C_SignRecoverInit',
  'C_SignRecover',
  'C_VerifyInit',
  'C_Verify',
  'C_VerifyUpdate',
  'C_VerifyFinal',
  'C_VerifyRecoverInit',
  'C_VerifyRecover',
  'C_DigestEncryptUpdate',
  'C_DecryptDigestUpdate',
  'C_SignEncryptUpdate',
  'C_DecryptVerifyUpdate',
  'C_GenerateKey',
  'C_GenerateKeyPair',
  'C_WrapKey',
  'C_UnwrapKey',
  'C_DeriveKey',
  'C_SeedRandom',
  'C_GenerateRandom',
  'C_GetFunctionStatus',
  'C_CancelFunction',
  'C_WaitForSlotEvent',
] as const;

type Pkcs11FunctionName = (typeof PKCS11_FUNCTIONS)[number];

/** Calls per function: every PKCS#11 function name, 0 when never called. */
type FaultCounts = Record<Pkcs11FunctionName, number>;

/** The environment variables the module reads at C_Initialize. */
interface FaultEnv {
  /** The real module every call is forwarded to. */
  readonly P11FAULT_MODULE: string;
  readonly P11FAULT_CONTROL: string;
  readonly P11FAULT_COUNTS: string;
}

export interface FaultControl {
  readonly dir: string;
  readonly controlFile: string;
  readonly countsFile: string;
  /** For a child process: merge into its environment (`{ ...process.env, ...control.env }`). */
  readonly env: FaultEnv;
  /**
   * Replaces every rule, e.g. `['C_Sign fail CKR_DEVICE_ERROR times=1', 'C_Login fail CKR_PIN_LOCKED token=a']`.
   * Modules see the new rules at their next call (times= and after= counters start again).
   */
  set(rules: readonly string[]): void;
  /** No rules: a pure pass-through again (a call hanging on a rule goes on). */
  clear(): void;
  /** Calls per function made through the module, summed over every process using this control. */
  counts(): FaultCounts;
  /** Calls per function to which a rule applied (fail, delay or hang). */
  injected(): FaultCounts;
  /** Zeroes both counters (in place: processes keep their mapping). */
  reset(): void;
  /** Removes the two files (not `dir`) and, if it is still this control, the link of this process. */
  cleanup(): void;
}

/**
 * Token settings for a token behind the fault token: the given operation deadline, generous deadlines for the
 * rest, and a fast recovery ladder (short back-off, no exit), so that a test sees a fault and the way back quickly.
 */
export function faultTokenOverrides(operationMs: number): Partial<TokenConfig> {
  return {
    module: faultTokenModule(),
    timeouts: { operationMs, keyGenerationMs: 30000, initializeMs: 10000, startMs: 5000 },
    recovery: {
      initialDelayMs: 50,
      maxDelayMs: 500,
      drainMs: 10000,
      maxRecoveries: 5,
      windowMs: 60000,
      stuckExitMs: 60000,
    },
  };
}

/** The fault token's path (built by globalSetup); throws the build's error when it could not be built. */
export function faultTokenModule(): string {
  const path = process.env.P11BRIDGE_FAULT_MODULE;
  if (!path) {
    throw new Error(
      `the fault token was not built: ${process.env.P11BRIDGE_FAULT_MODULE_ERROR ?? 'globalSetup did not run'}`,
    );
  }
  return path;
}

const FUNCTION = `(?:\\*|${PKCS11_FUNCTIONS.filter((f) => f !== 'C_GetFunctionList').join('|')})`;
const ACTION = '(?:fail (?:CKR_[A-Z0-9_]+|0x[0-9a-fA-F]+|\\d+)|delay \\d+|hang)';
const OPTION = '(?: (?:token=[^\\s#]{1,32}|times=[1-9]\\d*|after=\\d+))';
/** `empty`: C_GetAttributeValue's length call reports the attribute empty (the object "changes" before the next). */
const EMPTY =
  'C_GetAttributeValue empty (?:CKA_(?:CLASS|LABEL|ID|VALUE|APPLICATION|KEY_TYPE|MODULUS|EC_POINT|EC_PARAMS)|0x[0-9a-fA-F]+|\\d+)';
const RULE = new RegExp(`^(?:${FUNCTION} ${ACTION}|${EMPTY})${OPTION}*$`);

/** Throws on a rule the module would reject (it would only log it to stderr and ignore it). */
function assertFaultRule(rule: string): void {
  if (!RULE.test(rule.trim().replace(/\s+/g, ' '))) {
    throw new Error(
      `bad fault rule ${JSON.stringify(rule)}: expected "<C_Function|*> fail <CKR_NAME|0xHEX>|delay <ms>|hang` +
        ` [token=<label>] [times=<n>] [after=<n>]" or "C_GetAttributeValue empty <CKA_NAME|0xHEX> [options]"`,
    );
  }
}

// The counts file (faulttoken.c, struct counts_file): a 64-byte header (magic, u32 functions, u32 name length),
// the names, then u64 calls[functions] and u64 injected[functions], little-endian (this host's order).
const MAGIC = 'P11FAULTCOUNTS1';
const HEADER = 64;

function readCounts(file: string, which: 'calls' | 'injected'): FaultCounts {
  const out = Object.fromEntries(PKCS11_FUNCTIONS.map((f) => [f, 0])) as FaultCounts;
  let b: Buffer;
  try {
    b = readFileSync(file);
  } catch {
    return out; // no module has initialised with this control yet
  }
  if (b.length < HEADER) return out;
  if (b.subarray(0, MAGIC.length).toString('latin1') !== MAGIC) throw new Error(`${file} is not a counts file`);
  const n = b.readUInt32LE(16);
  const nameLen = b.readUInt32LE(20);
  const base = HEADER + n * nameLen + (which === 'injected' ? n * 8 : 0);
  for (let i = 0; i < n; i++) {
    const raw = b.subarray(HEADER + i * nameLen, HEADER + (i + 1) * nameLen);
    const name = raw.subarray(0, raw.indexOf(0)).toString('latin1');
    if (name !== PKCS11_FUNCTIONS[i])
      throw new Error(`${file}: counter ${i} is ${name}, expected ${PKCS11_FUNCTIONS[i]}`);
    out[name] = Number(b.readBigUInt64LE(base + i * 8));
  }
  return out;
}

/** The paths the module of THIS process reads (globalSetup's "%p" paths, expanded), if it was set up so. */
function processPaths(): { control: string; counts: string } | undefined {
  const control = process.env.P11FAULT_CONTROL;
  const counts = process.env.P11FAULT_COUNTS;
  if (!control?.includes('%p') || !counts?.includes('%p')) return undefined;
  const pid = String(process.pid);
  return { control: control.replaceAll('%p', pid), counts: counts.replaceAll('%p', pid) };
}

function link(target: string, path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  rmSync(path, { force: true });
  symlinkSync(target, path);
}

function unlinkIfOurs(target: string, path: string): void {
  try {
    if (readlinkSync(path) === target) rmSync(path, { force: true });
  } catch {
    // not a link (or gone): nothing of ours
  }
}

/**
 * A control for the fault token in `dir` (created if needed): files `control` and `counts`, no rules yet.
 * Also makes it the control of the fault module loaded in this process (see the file comment).
 */
export function createFaultControl(dir: string, opts: { realModule?: string } = {}): FaultControl {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const controlFile = resolve(dir, 'control');
  const countsFile = resolve(dir, 'counts');
  writeFileSync(controlFile, '', { mode: 0o600 });
  // Created empty, never truncated: a process may have it mapped, and a mapping past the end of a file faults
  // (SIGBUS). The module sizes and fills it at its first C_Initialize.
  closeSync(openSync(countsFile, 'a', 0o600));
  const own = processPaths();
  if (own) {
    link(controlFile, own.control);
    link(countsFile, own.counts);
  }
  // Each version gets a later mtime than the last, so a module that missed a version can never mistake the file
  // for one it has read (it compares inode, size and times; a rename gives a new inode, which may be reused).
  let lastMtime = 0;
  const write = (text: string): void => {
    const tmp = join(dir, `.control-${process.pid}.tmp`);
    writeFileSync(tmp, text, { mode: 0o600 });
    lastMtime = Math.max(Date.now() / 1000, lastMtime + 0.01);
    utimesSync(tmp, lastMtime, lastMtime);
    renameSync(tmp, controlFile); // atomic: a module never reads half a file
  };
  return {
    dir,
    controlFile,
    countsFile,
    env: {
      P11FAULT_MODULE: opts.realModule ?? SOFTHSM_MODULE,
      P11FAULT_CONTROL: controlFile,
      P11FAULT_COUNTS: countsFile,
    },
    set(rules) {
      rules.forEach(assertFaultRule);
      write(rules.map((r) => `${r.trim()}\n`).join(''));
    },
    clear() {
      write('');
    },
    counts: () => readCounts(countsFile, 'calls'),
    injected: () => readCounts(countsFile, 'injected'),
    reset() {
      let b: Buffer;
      try {
        b = readFileSync(countsFile);
      } catch {
        return;
      }
      if (b.length < HEADER) return;
      const n = b.readUInt32LE(16);
      const start = HEADER + n * b.readUInt32LE(20);
      const fd = openSync(countsFile, 'r+');
      try {
        writeSync(fd, Buffer.alloc(n * 16), 0, n * 16, start);
      } finally {
        closeSync(fd);
      }
    },
    cleanup() {
      if (own) {
        unlinkIfOurs(controlFile, own.control);
        unlinkIfOurs(countsFile, own.counts);
      }
      rmSync(controlFile, { force: true });
      rmSync(countsFile, { force: true });
    },
  };
}
