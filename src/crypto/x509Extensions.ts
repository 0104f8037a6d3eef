import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { OctetString } from '@peculiar/asn1-schema';
import {
  Extension,
  GeneralName,
  SubjectAlternativeName,
  id_ce_subjectAltName,
  type SubjectPublicKeyInfo,
} from '@peculiar/asn1-x509';
import { toDer } from './asn1';
import { EncodingError } from './encodingError';

/** The X.509 extensions shared by certificates and CSRs, and the checks on their inputs. */

/** Wraps an asn1-schema value as an Extension (`extnValue` is the OCTET STRING of its DER). */
export function extension(extnID: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(toDer(value)) });
}

/**
 * RFC 5280 §4.2.1.2 method 1: the SHA-1 of the subjectPublicKey BIT STRING's value (without tag, length
 * and unused-bits octet). What OpenSSL's `subjectKeyIdentifier=hash` computes.
 */
export function keyIdentifier(spki: SubjectPublicKeyInfo): Buffer {
  return createHash('sha1').update(Buffer.from(spki.subjectPublicKey)).digest();
}

/**
 * A DNS name for a SAN: ASCII letters, digits, `-`, `.`, `_` and a leading `*.` wildcard label, at most
 * 253 characters. IDNs must arrive as A-labels (`xn--…`): dNSName is an IA5String (RFC 5280 §4.2.1.6).
 */
const DNS_NAME =
  /^(\*\.)?[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*$/;

/**
 * The subjectAltName extension for DNS names. `critical` must be true when the subject is empty
 * (RFC 5280 §4.2.1.6). Throws `EncodingError` on an empty list or a malformed name.
 */
export function subjectAltNameExtension(dnsNames: readonly string[], critical: boolean): Extension {
  if (dnsNames.length === 0) throw new EncodingError('SAN: the list of DNS names is empty');
  for (const name of dnsNames) {
    if (isIP(name) !== 0) continue;
    if (name.length > 253 || !DNS_NAME.test(name)) throw new EncodingError(`SAN: "${name}" is not a DNS name`);
  }
  // An IP literal is an iPAddress entry (RFC 5280 §4.2.1.6): TLS clients match an IP host only against those.
  const names = new SubjectAlternativeName(
    dnsNames.map((n) => (isIP(n) !== 0 ? new GeneralName({ iPAddress: n }) : new GeneralName({ dNSName: n }))),
  );
  return extension(id_ce_subjectAltName, critical, names);
}

/** Throws `EncodingError` unless `oid` is a dotted OBJECT IDENTIFIER (X.660: first arc 0–2). */
export function assertOid(oid: string, what: string): void {
  if (!/^[0-2](\.(0|[1-9][0-9]*))+$/.test(oid)) throw new EncodingError(`${what}: "${oid}" is not an OID`);
}
