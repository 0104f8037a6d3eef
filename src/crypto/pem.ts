import { EncodingError } from './encodingError';

/** PEM (RFC 7468) for certificates, chains, CSRs and public keys as the APIs exchange them. */

/** One decoded PEM block. */
export interface PemBlock {
  /** The label between `BEGIN ` and the dashes, e.g. `CERTIFICATE`. */
  readonly label: string;
  readonly der: Buffer;
}

/** RFC 7468 §3 labels: printable ASCII without `-`, no leading/trailing space. */
const LABEL = /^[\x21-\x2c\x2e-\x7e]([\x20-\x2c\x2e-\x7e]*[\x21-\x2c\x2e-\x7e])?$/;

/** Encodes DER as a PEM block: base64 in 64-character lines, LF line ends, trailing newline (RFC 7468 §2). */
export function pemEncode(label: string, der: Buffer): string {
  if (!LABEL.test(label)) throw new EncodingError(`PEM: invalid label "${label}"`);
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}${lines.length > 0 ? '\n' : ''}-----END ${label}-----\n`;
}

const BLOCK = /-----BEGIN ([^\r\n-]*)-----([\s\S]*?)-----END ([^\r\n-]*)-----/g;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes every PEM block in `pem`, in order (a certificate chain is several CERTIFICATE blocks).
 * Text between blocks is ignored (RFC 7468 §5.2 explanatory text); whitespace and CRLF inside a block
 * are tolerated. Throws `EncodingError` on mismatched labels, bad base64, empty blocks, pre-RFC
 * headers (`Proc-Type:` encrypted keys) or a `BEGIN` line with no matching `END`.
 */
export function pemDecodeAll(pem: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  let consumed = 0;
  for (const match of pem.matchAll(BLOCK)) {
    const [whole, label = '', body = '', endLabel = ''] = match;
    if (label !== endLabel) throw new EncodingError(`PEM: BEGIN ${label} closed by END ${endLabel}`);
    const base64 = body.replace(/\s+/g, '');
    if (base64 === '' || !BASE64.test(base64)) throw new EncodingError(`PEM: ${label} block is not base64`);
    blocks.push({ label, der: Buffer.from(base64, 'base64') });
    consumed = (match.index ?? 0) + whole.length;
  }
  if (pem.indexOf('-----BEGIN ', consumed) >= 0) throw new EncodingError('PEM: BEGIN line without END line');
  return blocks;
}
