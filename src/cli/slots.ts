import { parseArgs } from 'node:util';
import * as pkcs11 from 'pkcs11js';
import { SIGNATURE_ALGORITHMS } from '../crypto/algorithms';
import { cliConfig, output, withToken } from './context';

interface SlotReport {
  warehouseId: number;
  name: string;
  module: string;
  token: { label: string | undefined; serial: string | undefined };
  slots: Array<{ slot: string; label: string; serial: string; model: string; manufacturer: string }>;
  mechanisms: string[];
  signatureAlgorithms: Array<{ kms: string | null; cas: string | null; supported: boolean }>;
  decryptionAlgorithms: readonly string[];
  /** Key specs the token can generate (KMS CreateCertificate / CreateKey, demo provisioning). */
  keySpecs: readonly string[];
  keys: number;
  /** Where lifecycle metadata and KMS key records are kept (`metadataStore`, decision 0031). */
  metadataStore: string;
  /** Identities whose key the token lets do more than it was made for (its templates cannot restrict usage). */
  weakerTokenRestriction: Array<{ id: string; tokenAllowsAlso: readonly string[] }>;
}

const HELP = `p11bridge slots [--config FILE] [--json]
  For each configured token: its module's slots and tokens, the token's mechanisms, and what the capability
  probe found (API signature algorithms, decryption algorithms, key generation), with the number of keys it
  serves and every key the token lets do more than it was made for (a token whose templates cannot restrict usage).`;

/** `p11bridge slots`: tokens, mechanisms and capability summary. */
export async function slotsCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const config = cliConfig(values.config);
  const report: SlotReport[] = [];
  for (const t of config.tokens) {
    report.push(
      await withToken(config, String(t.warehouseId), async (token): Promise<SlotReport> => {
        await token.probed();
        const slots: SlotReport['slots'] = [];
        for (const slot of (await token.moduleCall('C_GetSlotList', [true])) as pkcs11.Handle[]) {
          try {
            const info = (await token.moduleCall('C_GetTokenInfo', [slot])) as pkcs11.TokenInfo;
            if ((info.flags & pkcs11.CKF_TOKEN_INITIALIZED) === 0) continue;
            slots.push({
              slot: slot.toString('hex'),
              label: info.label.trim(),
              serial: info.serialNumber.trim(),
              model: info.model.trim(),
              manufacturer: info.manufacturerID.trim(),
            });
          } catch {
            // A slot whose token cannot be read (deleted underneath: CKR_GENERAL_ERROR in SoftHSM2) is left out.
          }
        }
        const caps = token.capabilities;
        const names = new Map(
          Object.entries(pkcs11)
            .filter(([k, v]) => k.startsWith('CKM_') && typeof v === 'number')
            .map(([k, v]) => [v as number, k]),
        );
        return {
          warehouseId: t.warehouseId,
          name: t.name,
          module: t.module,
          token: { label: token.tokenInfo?.label.trim(), serial: token.tokenInfo?.serialNumber.trim() },
          slots,
          mechanisms: [...caps.mechanisms].map((m) => names.get(m) ?? `0x${m.toString(16)}`).sort(),
          signatureAlgorithms: SIGNATURE_ALGORITHMS.map((a) => ({
            kms: a.kmsName ?? null,
            cas: a.casName ?? null,
            supported: caps.signatureAlgorithms.includes(a.id),
          })),
          decryptionAlgorithms: caps.decryptionAlgorithms,
          keySpecs: caps.keySpecs,
          keys: token.entries().length,
          metadataStore: token.records.description,
          weakerTokenRestriction: token
            .entries()
            .filter((e) => e.beyondGrant.length > 0)
            .map((e) => ({ id: e.id, tokenAllowsAlso: e.beyondGrant })),
        };
      }),
    );
  }
  output(values.json, report, () =>
    report
      .map((r) =>
        [
          `warehouse ${r.warehouseId} "${r.name}": token "${r.token.label}" serial ${r.token.serial} (${r.module})`,
          `  slots with a token: ${r.slots.map((s) => `${s.label}/${s.serial}`).join(', ')}`,
          `  mechanisms: ${r.mechanisms.length}`,
          ...r.signatureAlgorithms.map(
            (a) => `  ${a.supported ? 'yes' : 'no '}  ${[a.kms, a.cas].filter(Boolean).join(' / ')}`,
          ),
          `  decryption: ${r.decryptionAlgorithms.join(', ') || 'none'}`,
          `  key generation: ${r.keySpecs.join(', ') || 'none'}`,
          `  keys served: ${r.keys}`,
          `  records: ${r.metadataStore}`,
          ...r.weakerTokenRestriction.map(
            (w) =>
              `  weaker token-side restriction: ${w.id}: the token also lets its key ${w.tokenAllowsAlso.join(' and ')} ` +
              '(not granted: the API refuses it)',
          ),
        ].join('\n'),
      )
      .join('\n'),
  );
  return 0;
}
