import { keySpecRow } from '../../crypto/algorithms';
import type { TokenManager } from '../../token/tokenManager';
import { keysOf, type KmsKey } from './keyView';
import { createKey } from './lifecycle';
import type { ArnScope } from './resolve';
import type { KmsKeySpec } from './record';

/**
 * The demo's KMS signing keys: one SIGN/VERIFY key per spec each demo token can generate (SoftHSM2 2.6: RSA_2048,
 * RSA_3072, EC_P256, EC_P256K; the SM2 test token of `--sm2`: EC_SM2).
 * They are ordinary KMS keys marked by a tag, so that the demo finds its own among the keys a user creates.
 */
const DEMO_KEY_SPECS: readonly KmsKeySpec[] = ['RSA_2048', 'RSA_3072', 'EC_P256', 'EC_P256K', 'EC_SM2'];

/** The tag that marks a demo key (TagKey, TagValue): a user's keys are never listed as the demo's. */
const DEMO_KEY_TAG = { key: 'p11bridge-demo', value: 'signing-key' } as const;

/** What `demo --json` shows of a demo key (its `keys` array). */
export interface DemoKeyInfo {
  readonly keyId: string;
  readonly keyVersionId: string;
  readonly keySpec: string;
  readonly keyUsage: string;
  readonly publicKeyPem: string;
}

function isDemoKey(k: KmsKey): boolean {
  return k.record.tags[DEMO_KEY_TAG.key] === DEMO_KEY_TAG.value && k.record.keyUsage === 'SIGN/VERIFY';
}

/**
 * Creates the demo keys that are missing on `token` (idempotent: a demo home provisioned before the demo had keys
 * gets them on its next start; a spec the token cannot generate is skipped). A demo key scheduled for deletion
 * still counts: the user asked for that, the demo does not undo it. Returns the KeyIds created.
 */
export async function ensureDemoKeys(token: TokenManager, scope: ArnScope, creator: string): Promise<string[]> {
  const have = new Set(
    keysOf(token)
      .keys.filter(isDemoKey)
      .map((k) => k.record.keySpec),
  );
  const created: string[] = [];
  for (const spec of DEMO_KEY_SPECS) {
    const row = keySpecRow(spec);
    if (have.has(spec) || !row || !token.canGenerate(row)) continue;
    const key = await createKey([token], {
      keySpec: spec,
      keyUsage: 'SIGN/VERIFY',
      description: `p11bridge demo ${spec} signing key`,
      tags: { [DEMO_KEY_TAG.key]: DEMO_KEY_TAG.value },
      scope,
      creator,
    });
    created.push(key.keyId);
  }
  return created;
}

/**
 * The demo keys of `token` (its last index read), in DEMO_KEY_SPECS order, with their primary version's public key.
 * A key whose primary key pair is missing is left out (it refuses use anyway).
 */
export function demoKeysOf(token: TokenManager): DemoKeyInfo[] {
  const order = (spec: string): number => DEMO_KEY_SPECS.indexOf(spec as KmsKeySpec);
  return keysOf(token)
    .keys.filter(isDemoKey)
    .sort(
      (a, b) =>
        order(a.record.keySpec) - order(b.record.keySpec) || a.record.creationDate.localeCompare(b.record.creationDate),
    )
    .flatMap((k) => {
      const primary = k.versions.find((v) => v.versionId === k.record.primaryKeyVersion);
      const kp = primary?.keyPair;
      if (!primary || !kp || kp.problem !== undefined) return [];
      return [
        {
          keyId: k.keyId,
          keyVersionId: primary.versionId,
          keySpec: k.record.keySpec,
          keyUsage: k.record.keyUsage,
          publicKeyPem: kp.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        },
      ];
    });
}
