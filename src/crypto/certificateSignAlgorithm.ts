import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';

/**
 * The certificate's own signature algorithm as CAS `ListCert.SignAlgorithm` spells it (upper case,
 * `SHA256WITHRSA`, as in the cloud's example), from the OID; the dotted OID for an algorithm not named here.
 */
const NAMES: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.5': 'SHA1WITHRSA',
  '1.2.840.113549.1.1.11': 'SHA256WITHRSA',
  '1.2.840.113549.1.1.12': 'SHA384WITHRSA',
  '1.2.840.113549.1.1.13': 'SHA512WITHRSA',
  '1.2.840.113549.1.1.10': 'RSASSA-PSS',
  '1.2.840.10045.4.3.2': 'SHA256WITHECDSA',
  '1.2.840.10045.4.3.3': 'SHA384WITHECDSA',
  '1.2.840.10045.4.3.4': 'SHA512WITHECDSA',
  '1.2.156.10197.1.501': 'SM3WITHSM2',
};

/** `ListCert.SignAlgorithm` of a DER certificate. */
export function certificateSignAlgorithm(der: Buffer): string {
  const oid = AsnConvert.parse(der, Certificate).signatureAlgorithm.algorithm;
  return NAMES[oid] ?? oid;
}
