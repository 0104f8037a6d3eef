/**
 * Demo provisioning, in one place: the demo key set (a CA and one signing key per spec, certificates issued by the
 * CA through PKCS#11) and the SM2 pair of the SM2 test token. What is generated follows what the token can do
 * (its capability probe), never the module's name: a token without EC (opencryptoki's soft token) gets an RSA CA and
 * no EC key, and the report says which key types it cannot generate and why.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { keySpecRow, type KeySpec, type KeySpecRow } from '../crypto/algorithms';
import { buildCertificate } from '../crypto/x509Builder';
import { randomSerial, storeActiveIdentity, tokenSigner, x509AlgorithmFor } from '../token/issuing';
import { generateKeyPair, type KeyUsage } from '../token/objects';
import type { TokenManager } from '../token/tokenManager';

/** The signing keys of a demo token, in this order (`--ids` and the demo home's ids file follow it). */
export const DEMO_SIGNING_SPECS: readonly KeySpec[] = ['RSA_2048', 'EC_P256'];

/** CA key specs, most preferred first: P-256 (small certificates), else RSA. */
const CA_PREFERENCE: readonly KeySpec[] = ['EC_P256', 'RSA_2048', 'RSA_3072'];

export interface ProvisionedIdentity {
  readonly id: string;
  readonly keySpec: KeySpec;
  /**
   * Usages the token lets this key do although it was not made for them (its key templates cannot restrict usage):
   * the API refuses them; present only when not empty.
   */
  readonly tokenAllowsAlso?: ReadonlyArray<'sign' | 'decrypt'>;
}

/** A key spec the token cannot generate, with the reason. */
interface SkippedSpec {
  readonly keySpec: KeySpec;
  readonly reason: string;
}

/** What the demo key set will be on a token. */
export interface DemoPlan {
  readonly ca: KeySpec;
  readonly leaves: readonly KeySpec[];
  readonly skipped: readonly SkippedSpec[];
}

/** Why a key spec cannot be generated here. */
function reasonFor(row: KeySpecRow): string {
  if (row.keyType === 'EC') return `the token offers no ${row.curve ?? 'EC'} key pair generation (CKM_EC_KEY_PAIR_GEN)`;
  return `the token offers no ${row.modulusBits ?? ''}-bit RSA key pair generation`;
}

/**
 * The demo key set a token can hold: the first CA spec it can generate, and each demo signing spec it can generate.
 * Throws when it can generate none of the CA specs (nothing could issue the certificates).
 */
export function planDemoKeySet(canGenerate: (row: KeySpecRow) => boolean): DemoPlan {
  const row = (spec: KeySpec): KeySpecRow => {
    const r = keySpecRow(spec);
    if (!r) throw new Error(`${spec} row missing`);
    return r;
  };
  const ca = CA_PREFERENCE.find((s) => canGenerate(row(s)));
  if (!ca) {
    throw new Error(
      `the token can generate none of ${CA_PREFERENCE.join(', ')}: no demo CA can be made (${CA_PREFERENCE.map((s) => reasonFor(row(s))).join('; ')})`,
    );
  }
  const leaves = DEMO_SIGNING_SPECS.filter((s) => canGenerate(row(s)));
  const skipped = DEMO_SIGNING_SPECS.filter((s) => !canGenerate(row(s))).map((s) => ({
    keySpec: s,
    reason: reasonFor(row(s)),
  }));
  return { ca, leaves, skipped };
}

/** The demo key set as provisioned. */
export interface DemoProvisioning {
  readonly ca: ProvisionedIdentity;
  readonly leaves: ProvisionedIdentity[];
  /** Demo signing specs this token cannot generate, with the reason. */
  readonly skipped: readonly SkippedSpec[];
  /** Where the identities' lifecycle metadata is kept (`metadataStore`): on the token, or a file it vouches for. */
  readonly metadataStore: string;
}

/** One certificate identity: a key pair in the token and its certificate, signed by `issuer` (or itself). */
async function issueIdentity(
  token: TokenManager,
  o: {
    id: string;
    row: KeySpecRow;
    usage: KeyUsage;
    subject: string;
    notBefore: Date;
    notAfter: Date;
    now: Date;
    issuer?: { id: string; subject: string; spki: Buffer; keyType: 'RSA' | 'EC' | 'SM2' };
    keyUsage: Array<'keyCertSign' | 'cRLSign' | 'digitalSignature' | 'nonRepudiation' | 'keyEncipherment'>;
  },
): Promise<{ identity: ProvisionedIdentity; spki: Buffer; der: Buffer }> {
  const ckaId = randomBytes(16);
  const key = await generateKeyPair(token, o.row, o.id, ckaId, o.usage);
  // A self-signed CA signs with its own key below: the index must know it first.
  if (!o.issuer) await token.refreshIndex();
  const issuer = o.issuer ?? { id: o.id, subject: o.subject, spki: key.spki, keyType: o.row.keyType };
  const der = await buildCertificate({
    subject: o.subject,
    issuer: issuer.subject,
    serialNumber: randomSerial(),
    notBefore: o.notBefore,
    notAfter: o.notAfter,
    subjectPublicKeyInfo: key.spki,
    issuerPublicKeyInfo: issuer.spki,
    isCA: !o.issuer,
    ...(o.issuer ? {} : { pathLen: 0 }),
    keyUsage: o.keyUsage,
    signatureAlgorithm: x509AlgorithmFor(issuer.keyType),
    signer: tokenSigner(token, issuer.id, issuer.keyType),
  });
  await storeActiveIdentity(token, o.id, ckaId, der, o.row.spec, o.now, o.usage);
  const identity: ProvisionedIdentity = {
    id: o.id,
    keySpec: o.row.spec,
    ...(key.beyondGrant.length > 0 ? { tokenAllowsAlso: key.beyondGrant } : {}),
  };
  return { identity, spki: key.spki, der };
}

/**
 * Provisions the demo key set inside the token, as its capabilities allow (planDemoKeySet): a CA key with a
 * self-signed CA certificate, and a signing key per demo spec the token can generate, with certificates issued by
 * that CA (the CA signs through PKCS#11). Identifiers are UUIDs, as KMS certificate ids are, unless `ids` gives them
 * (the CA's, then one per DEMO_SIGNING_SPECS entry, by position, whether or not the token can generate it).
 */
export async function provisionDemo(
  token: TokenManager,
  opts: { now?: Date; organization?: string; ids?: { ca: string; leaves: readonly string[] } } = {},
): Promise<DemoProvisioning> {
  const plan = planDemoKeySet((row) => token.canGenerate(row));
  // Checked before any key is made: a token that cannot hold the metadata would be left with unusable keys.
  const refusal = await token.records.refusal();
  if (refusal !== undefined) {
    throw new Error(`${refusal}; no key was made`);
  }
  const now = opts.now ?? new Date();
  const org = opts.organization ?? 'p11bridge demo';
  const notBefore = new Date(now.getTime() - 60 * 60 * 1000);
  const caSubject = `CN=${org} CA,O=${org},C=CN`;
  const caRow = keySpecRow(plan.ca) as KeySpecRow;
  const ca = await issueIdentity(token, {
    id: opts.ids?.ca ?? randomUUID(),
    row: caRow,
    usage: 'sign',
    subject: caSubject,
    notBefore,
    notAfter: addYears(now, 10),
    now,
    keyUsage: ['keyCertSign', 'cRLSign', 'digitalSignature'],
  });
  const issuer = { id: ca.identity.id, subject: caSubject, spki: ca.spki, keyType: caRow.keyType };
  const leaves: ProvisionedIdentity[] = [];
  for (const keySpec of plan.leaves) {
    // Given ids re-create the same identifiers (a token re-initialised underneath a running daemon).
    const given = opts.ids?.leaves[DEMO_SIGNING_SPECS.indexOf(keySpec)];
    const leaf = await issueIdentity(token, {
      id: given ?? randomUUID(),
      row: keySpecRow(keySpec) as KeySpecRow,
      usage: 'sign',
      subject: `CN=${org} ${keySpec},O=${org},C=CN`,
      notBefore,
      notAfter: addYears(now, 2),
      now,
      issuer,
      keyUsage: ['digitalSignature', 'nonRepudiation'],
    });
    leaves.push(leaf.identity);
  }
  await token.refreshIndex();
  return { ca: ca.identity, leaves, skipped: plan.skipped, metadataStore: token.records.description };
}

/** What `provisionSm2Pair` made: the CA and the leaf it issued, and the CA certificate (DER). */
export interface ProvisionedSm2Pair {
  readonly ca: ProvisionedIdentity;
  readonly leaf: ProvisionedIdentity;
  readonly caDer: Buffer;
}

/**
 * Provisions an SM2 CA (self-signed, SM2-with-SM3) and an SM2 leaf that signs and decrypts (SM2PKE), issued by that
 * CA, all generated and signed inside the token through its SM2 HSM profile: the private keys never leave it.
 * Used by `npm start -- --sm2` (the SM2 test token of the demo) and by the SM2 test suites.
 */
export async function provisionSm2Pair(
  token: TokenManager,
  opts: { now?: Date; caSubject?: string; leafSubject?: string } = {},
): Promise<ProvisionedSm2Pair> {
  const row = keySpecRow('EC_SM2');
  if (!row) throw new Error('EC_SM2 row missing');
  const now = opts.now ?? new Date();
  const notBefore = new Date(now.getTime() - 3600_000);
  const notAfter = new Date(now.getTime() + 365 * 86400_000);
  const caSubject = opts.caSubject ?? 'CN=p11bridge SM2 CA,O=p11bridge,C=CN';
  const common = { row, notBefore, notAfter, now };
  const ca = await issueIdentity(token, {
    ...common,
    id: randomUUID(),
    usage: 'sign',
    subject: caSubject,
    keyUsage: ['keyCertSign', 'cRLSign', 'digitalSignature'],
  });
  const leaf = await issueIdentity(token, {
    ...common,
    id: randomUUID(),
    usage: 'sign+decrypt',
    subject: opts.leafSubject ?? 'CN=p11bridge SM2 leaf,O=p11bridge,C=CN',
    issuer: { id: ca.identity.id, subject: caSubject, spki: ca.spki, keyType: 'SM2' },
    keyUsage: ['digitalSignature', 'nonRepudiation', 'keyEncipherment'],
  });
  await token.refreshIndex();
  return { ca: ca.identity, leaf: leaf.identity, caDer: ca.der };
}

function addYears(d: Date, years: number): Date {
  const r = new Date(d);
  r.setUTCFullYear(r.getUTCFullYear() + years);
  return r;
}
