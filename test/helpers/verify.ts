/** Independent verification of the daemon's signatures: node:crypto and the `openssl` CLI, never our own code. */
import { spawnSync } from 'node:child_process';
import {
  createHash,
  verify as cryptoVerify,
  constants as cryptoConstants,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The certificate's public key. */
function publicKeyOf(certificatePem: string): KeyObject {
  return new X509Certificate(certificatePem).publicKey;
}

/** node:crypto verification of an RSA PKCS#1 v1.5, RSA-PSS (given salt) or ECDSA (DER) signature over `data`. */
export function nodeVerify(
  certificatePem: string,
  kind: 'pkcs1' | 'pss' | 'ecdsa',
  data: Buffer,
  signature: Buffer,
  pssSaltLength = 32,
): boolean {
  const key = publicKeyOf(certificatePem);
  if (kind === 'pss') {
    return cryptoVerify(
      'sha256',
      data,
      { key, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: pssSaltLength },
      signature,
    );
  }
  return cryptoVerify('sha256', data, key, signature);
}

/** A temporary directory for openssl's input files; `cleanup()` removes it. */
export class Scratch {
  readonly dir = mkdtempSync(join(tmpdir(), 'p11bridge-e2e-'));
  #n = 0;

  /** Writes bytes or text to a new file and returns its path. */
  file(contents: Buffer | string, ext = 'bin'): string {
    const path = join(this.dir, `f${++this.#n}.${ext}`);
    writeFileSync(path, contents);
    return path;
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Runs `openssl` with arguments; returns exit status and combined output. */
export function openssl(args: string[], input?: Buffer): { status: number | null; output: string } {
  const r = spawnSync('openssl', args, { input, encoding: 'buffer', timeout: 30000 });
  return { status: r.status, output: `${r.stdout.toString('utf8')}${r.stderr.toString('utf8')}` };
}

/** `openssl dgst -sha256 -verify` over the data (PSS with salt length 32). */
export function opensslVerifyData(
  scratch: Scratch,
  certificatePem: string,
  kind: 'pkcs1' | 'pss' | 'ecdsa',
  data: Buffer,
  signature: Buffer,
): { status: number | null; output: string } {
  const pub = scratch.file(publicKeyOf(certificatePem).export({ type: 'spki', format: 'pem' }), 'pem');
  const pss = kind === 'pss' ? ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32'] : [];
  return openssl([
    'dgst',
    '-sha256',
    '-verify',
    pub,
    ...pss,
    '-signature',
    scratch.file(signature),
    scratch.file(data),
  ]);
}

/** `openssl pkeyutl -verify` over a SHA-256 digest (PSS with salt length 32). */
export function opensslVerifyDigest(
  scratch: Scratch,
  certificatePem: string,
  kind: 'pkcs1' | 'pss' | 'ecdsa',
  digest: Buffer,
  signature: Buffer,
): { status: number | null; output: string } {
  const pub = scratch.file(publicKeyOf(certificatePem).export({ type: 'spki', format: 'pem' }), 'pem');
  const pss = kind === 'pss' ? ['-pkeyopt', 'rsa_padding_mode:pss', '-pkeyopt', 'rsa_pss_saltlen:32'] : [];
  return openssl([
    'pkeyutl',
    '-verify',
    '-pubin',
    '-inkey',
    pub,
    '-pkeyopt',
    'digest:sha256',
    ...pss,
    '-in',
    scratch.file(digest),
    '-sigfile',
    scratch.file(signature),
  ]);
}

/** `openssl cms -verify` of a detached DER SignedData against the content and the chain's root. */
export function opensslVerifyCms(
  scratch: Scratch,
  caPem: string,
  data: Buffer,
  cms: Buffer,
): { status: number | null; output: string } {
  return openssl([
    'cms',
    '-verify',
    '-binary',
    '-inform',
    'DER',
    '-in',
    scratch.file(cms, 'der'),
    '-content',
    scratch.file(data),
    '-CAfile',
    scratch.file(caPem, 'pem'),
    '-purpose',
    'any',
    '-out',
    join(scratch.dir, 'cms-out.bin'),
  ]);
}

/** True when `sig` is a DER `SEQUENCE { INTEGER r, INTEGER s }` covering the whole buffer. */
export function isDerEcdsaSignature(sig: Buffer): boolean {
  if (sig[0] !== 0x30 || sig[1] !== sig.length - 2) return false;
  let off = 2;
  for (let i = 0; i < 2; i++) {
    if (sig[off] !== 0x02) return false;
    const len = sig[off + 1] ?? 0;
    if (len < 1 || len > 33) return false;
    off += 2 + len;
  }
  return off === sig.length;
}

/** One DER TLV: tag byte, where its contents start and where it ends. */
interface Tlv {
  readonly tag: number;
  readonly start: number;
  readonly end: number;
  /** Offset of the tag byte. */
  readonly at: number;
}

function readTlv(der: Buffer, at: number): Tlv {
  const tag = der[at];
  let len = der[at + 1];
  if (tag === undefined || len === undefined) throw new Error(`DER truncated at ${at}`);
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (der[start + i] ?? 0);
    start += n;
  }
  if (start + len > der.length) throw new Error(`DER length overruns at ${at}`);
  return { tag, start, end: start + len, at };
}

/** The TLVs directly inside a constructed TLV. */
function children(der: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let off = parent.start; off < parent.end;) {
    const c = readTlv(der, off);
    out.push(c);
    off = c.end;
  }
  return out;
}

function child(der: Buffer, parent: Tlv, i: number): Tlv {
  const c = children(der, parent)[i];
  if (!c) throw new Error(`DER: no child ${i} at ${parent.at}`);
  return c;
}

/** DER of OID 1.2.840.113549.1.9.4 (id-messageDigest). */
const ID_MESSAGE_DIGEST = Buffer.from('06092a864886f70d010904', 'hex');

/**
 * Verifies a detached CMS SignedData with node:crypto alone (a DER walk written for this test, RFC 5652 §5):
 * the one SignerInfo's messageDigest attribute is SHA-256(data), and its RSA PKCS#1 v1.5 signature over the
 * signed attributes, re-tagged as a SET (§5.4), verifies with the certificate's key.
 */
export function nodeVerifyCms(
  certificatePem: string,
  data: Buffer,
  cms: Buffer,
): { messageDigestOk: boolean; signatureOk: boolean } {
  const contentInfo = readTlv(cms, 0);
  const signedData = child(cms, child(cms, contentInfo, 1), 0);
  const parts = children(cms, signedData);
  const signerInfos = parts[parts.length - 1];
  if (!signerInfos || signerInfos.tag !== 0x31) throw new Error('CMS: no SignerInfos');
  const signerInfo = child(cms, signerInfos, 0);
  const fields = children(cms, signerInfo);
  const signedAttrs = fields.find((f) => f.tag === 0xa0);
  const signature = fields.find((f, i) => f.tag === 0x04 && i > 3);
  if (!signedAttrs || !signature) throw new Error('CMS: SignerInfo without signed attributes or signature');
  let messageDigest: Buffer | undefined;
  for (const attr of children(cms, signedAttrs)) {
    const [type, values] = children(cms, attr);
    if (type && values && cms.subarray(type.at, type.end).equals(ID_MESSAGE_DIGEST)) {
      const v = child(cms, values, 0);
      messageDigest = cms.subarray(v.start, v.end);
    }
  }
  const toSign = Buffer.from(cms.subarray(signedAttrs.at, signedAttrs.end));
  toSign[0] = 0x31;
  return {
    messageDigestOk: messageDigest !== undefined && messageDigest.equals(createHash('sha256').update(data).digest()),
    signatureOk: cryptoVerify(
      'sha256',
      toSign,
      publicKeyOf(certificatePem),
      cms.subarray(signature.start, signature.end),
    ),
  };
}
