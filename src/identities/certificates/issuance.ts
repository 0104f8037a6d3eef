import { randomBytes, randomUUID } from 'node:crypto';
import type { KeySpec } from '../../crypto/algorithms';
import { buildCsr } from '../../crypto/csrBuilder';
import { pemEncode } from '../../crypto/pem';
import { ApiError } from '../../errors/apiError';
import { destroyIdentityObjects } from '../../token/certificateObjects';
import { generateKeyPair, storeMetadata } from '../../token/objects';
import { tokenSigner, x509AlgorithmFor } from '../../token/issuing';
import type { TokenManager } from '../../token/tokenManager';
import { certificateKeySpec, checkCertificateId, checkKmsSubject, checkSubjectAlternativeNames } from './inputs';
import { certificateArn, pendingRecord, type ArnScope } from './records';

/** What a new certificate is made of. */
export interface CreateCertificateInput {
  /** RFC 2253 DN with CN, C, O and OU (ST, L optional). */
  readonly subject: string;
  readonly keySpec: string;
  readonly subjectAlternativeNames?: readonly string[];
  readonly tags?: Readonly<Record<string, string>>;
  readonly arnScope: ArnScope;
  /** The identifier (CKA_LABEL of the keys); default: a new UUID, as KMS certificate ids are. */
  readonly id?: string;
  readonly now?: Date;
}

export interface CreatedCertificate {
  readonly id: string;
  readonly keySpec: KeySpec;
  /** PKCS#10, PEM, signed by the new key inside the token. */
  readonly csrPem: string;
  readonly arn: string;
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * KMS CreateCertificate: generates the key pair INSIDE the token (sensitive, never extractable; RSA keys may also
 * decrypt, for CertificatePrivateKeyDecrypt), builds the PKCS#10 request for `subject` and the SANs signed by that
 * key through PKCS#11, and records the PENDING certificate's metadata on the token. Any failure after the key
 * pair exists destroys it again.
 */
export async function createCertificate(
  token: TokenManager,
  input: CreateCertificateInput,
): Promise<CreatedCertificate> {
  const row = certificateKeySpec(token, input.keySpec);
  checkKmsSubject(input.subject);
  const sans = [...(input.subjectAlternativeNames ?? [])];
  checkSubjectAlternativeNames(sans);
  if (input.id !== undefined) {
    checkCertificateId(input.id);
    await token.refreshIdentity(input.id);
    if (token.lookup(input.id)) throw new ApiError('Certificate.AlreadyExists');
  }
  const id = input.id ?? randomUUID();
  // CKA_ID = the UUID's 16 bytes, so `pkcs11-tool --id` finds an identity from its CertificateId.
  const ckaId = UUID_PATTERN.test(id) ? Buffer.from(id.replace(/-/g, ''), 'hex') : randomBytes(16);
  const key = await generateKeyPair(token, row, id, ckaId, 'sign+decrypt');
  try {
    // The CSR is signed through token.sign, which finds keys through the index.
    await token.refreshNewIdentity(id);
    const csrDer = await buildCsr({
      subject: input.subject,
      subjectPublicKeyInfo: key.spki,
      subjectAltNames: sans,
      signatureAlgorithm: x509AlgorithmFor(row.keyType),
      signer: tokenSigner(token, id, row.keyType),
    });
    const csrPem = pemEncode('CERTIFICATE REQUEST', csrDer);
    const arn = certificateArn(input.arnScope, id);
    await storeMetadata(
      token,
      id,
      pendingRecord({
        keySpec: row.spec,
        csrPem,
        subjectAlternativeNames: sans,
        tags: input.tags,
        arn,
        now: input.now ?? new Date(),
      }),
    );
    await token.identityChanged(id);
    return { id, keySpec: row.spec, csrPem, arn };
  } catch (e) {
    try {
      await destroyIdentityObjects(token, id, ckaId, undefined);
      await token.identityChanged(id);
    } catch {
      // The original failure is what the caller needs; a leftover PENDING key shows up in the index and can be
      // deleted with DeleteCertificate.
    }
    throw e;
  }
}
