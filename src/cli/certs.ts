import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pemEncode } from '../crypto/pem';
import { ApiError } from '../errors/apiError';
import { certificateFacts } from '../identities/certificates/facts';
import { createCertificate } from '../identities/certificates/issuance';
import { deleteCertificate, setCertificateStatus } from '../identities/certificates/lifecycle';
import { uploadCertificate } from '../identities/certificates/upload';
import { withCliAudit } from './audited';
import { cliConfig, confirm, output, withToken } from './context';

const HELP = `p11bridge certs <command> [--config FILE] [--warehouse N] ...

  list                      [--json]                 certificates and key pairs on the token
  create  --subject DN --key-spec RSA_2048|EC_P256 [--san a.example,b.example] [--id ID] [--csr-out FILE] [--json]
                                                     key pair generated INSIDE the token + a PKCS#10 CSR (PENDING)
  import  --id ID --cert FILE [--chain FILE]         store the issued certificate (and chain) for a key pair
  export  --id ID [--out FILE] [--json]              the certificate and its chain (never a private key)
  status  --id ID --status ACTIVE|INACTIVE|REVOKED   INACTIVE/REVOKED refuse to sign or decrypt
  delete  --id ID [--yes]                            destroy the key pair, certificate and metadata (asks first)

Uses the same config and token manager as the daemon (default: the demo home's config).`;

const common = {
  config: { type: 'string' },
  warehouse: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
  id: { type: 'string' },
} as const;

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new Error(`${flag} is required (see --help)`);
  return value;
}

/** `p11bridge certs …`: the certificate lifecycle from the command line, on the token directly. */
export async function certsCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (!sub || sub === '--help' || sub === '-h') {
    console.log(HELP);
    return sub ? 0 : 2;
  }
  try {
    return await run(sub, rest);
  } catch (e) {
    // ApiErrors carry the same message the API would answer with.
    if (e instanceof ApiError) throw new Error(`${e.code}: ${e.message}`);
    throw e;
  }
}

async function run(sub: string, rest: string[]): Promise<number> {
  switch (sub) {
    case 'list': {
      const { values } = parseArgs({ args: rest, options: common });
      if (values.help) return help();
      const config = cliConfig(values.config);
      const rows = await withToken(config, values.warehouse, async (token) =>
        token.entries().map((e) => ({
          id: e.id,
          keySpec: e.keySpec ?? e.keyType,
          status: e.metadata.status,
          type: e.isCA ? 'CA' : 'CERT',
          subject: e.certificate?.subject.replace(/\n/g, ', ') ?? null,
          notAfter: e.certificate ? new Date(e.certificate.validTo).toISOString() : null,
          warehouseId: token.warehouseId,
        })),
      );
      output(values.json, rows, () =>
        rows
          .map(
            (r) =>
              `${r.id}  ${r.keySpec.padEnd(8)}  ${r.status.padEnd(8)}  ${r.type.padEnd(4)}  ${r.subject ?? '(no certificate yet)'}`,
          )
          .join('\n'),
      );
      return 0;
    }
    case 'create': {
      const { values } = parseArgs({
        args: rest,
        options: {
          ...common,
          subject: { type: 'string' },
          'key-spec': { type: 'string' },
          san: { type: 'string' },
          'csr-out': { type: 'string' },
        },
      });
      if (values.help) return help();
      const config = cliConfig(values.config);
      const subject = required(values.subject, '--subject');
      const keySpec = required(values['key-spec'], '--key-spec');
      const created = await withToken(config, values.warehouse, (token) =>
        withCliAudit(config, token, (audit) =>
          audit.change(
            { action: 'CreateCertificate', command: 'certs create', identity: values.id, detail: { KeySpec: keySpec } },
            () =>
              createCertificate(token, {
                subject,
                keySpec,
                subjectAlternativeNames: values.san ? values.san.split(',').map((s) => s.trim()) : [],
                arnScope: config.server,
                ...(values.id ? { id: values.id } : {}),
              }),
            (r) => [{ identity: r.id }],
          ),
        ),
      );
      if (values['csr-out']) writeFileSync(values['csr-out'], created.csrPem);
      output(values.json, created, () =>
        values['csr-out']
          ? `${created.id}  ${created.keySpec}  PENDING  CSR written to ${values['csr-out']}`
          : `${created.id}  ${created.keySpec}  PENDING\n${created.csrPem}`,
      );
      return 0;
    }
    case 'import': {
      const { values } = parseArgs({
        args: rest,
        options: { ...common, cert: { type: 'string' }, chain: { type: 'string' } },
      });
      if (values.help) return help();
      const config = cliConfig(values.config);
      const certPem = readFileSync(required(values.cert, '--cert'), 'utf8');
      const chainPem = values.chain ? readFileSync(values.chain, 'utf8') : undefined;
      const id = required(values.id, '--id');
      const result = await withToken(config, values.warehouse, (token) =>
        withCliAudit(config, token, (audit) =>
          audit.change(
            { action: 'UploadCertificate', command: 'certs import', identity: id },
            () => uploadCertificate(token, id, certPem, chainPem),
            (r) => [{ detail: { Status: r.status, ...(r.replaced ? { replaced: true } : {}) } }],
          ),
        ),
      );
      output(
        values.json,
        { id, ...result },
        () => `${id}  ${result.status}${result.replaced ? '  (replaced the previous certificate)' : ''}`,
      );
      return 0;
    }
    case 'export': {
      const { values } = parseArgs({ args: rest, options: { ...common, out: { type: 'string' } } });
      if (values.help) return help();
      const config = cliConfig(values.config);
      const id = required(values.id, '--id');
      const facts = await withToken(config, values.warehouse, async (token) => {
        const entry = token.lookup(id);
        if (!entry) throw new ApiError('Certificate.NotFound');
        return certificateFacts(entry, config.server);
      });
      const certificatePem = facts.certificate ? pemEncode('CERTIFICATE', facts.certificate.der) : '';
      if (values.out) writeFileSync(values.out, certificatePem + facts.chainPem);
      output(
        values.json,
        { id, status: facts.status, certificatePem, chainPem: facts.chainPem, csrPem: facts.csrPem ?? null },
        () =>
          values.out
            ? `written to ${values.out}`
            : certificatePem + facts.chainPem || `${id} has no certificate yet (PENDING)`,
      );
      return 0;
    }
    case 'status': {
      const { values } = parseArgs({ args: rest, options: { ...common, status: { type: 'string' } } });
      if (values.help) return help();
      const status = required(values.status, '--status');
      if (status !== 'ACTIVE' && status !== 'INACTIVE' && status !== 'REVOKED')
        throw new Error('--status must be ACTIVE, INACTIVE or REVOKED');
      const config = cliConfig(values.config);
      const id = required(values.id, '--id');
      await withToken(config, values.warehouse, (token) =>
        withCliAudit(config, token, (audit) =>
          audit.change(
            { action: 'UpdateCertificateStatus', command: 'certs status', identity: id, detail: { Status: status } },
            () => setCertificateStatus(token, id, status),
          ),
        ),
      );
      output(values.json, { id, status }, () => `${id}  ${status}`);
      return 0;
    }
    case 'delete': {
      const { values } = parseArgs({ args: rest, options: { ...common, yes: { type: 'boolean' } } });
      if (values.help) return help();
      const config = cliConfig(values.config);
      const id = required(values.id, '--id');
      if (
        !values.yes &&
        !(await confirm(`Destroy the key pair, certificate and metadata of ${id}? This cannot be undone.`))
      ) {
        console.error('not deleted (confirm on a terminal, or pass --yes)');
        return 1;
      }
      const destroyed = await withToken(config, values.warehouse, (token) =>
        withCliAudit(config, token, (audit) =>
          audit.change(
            { action: 'DeleteCertificate', command: 'certs delete', identity: id },
            () => deleteCertificate(token, id),
            (n) => [{ detail: { destroyedObjects: n } }],
          ),
        ),
      );
      output(values.json, { id, destroyedObjects: destroyed }, () => `${id}  deleted (${destroyed} objects)`);
      return 0;
    }
    default:
      console.error(`unknown certs command "${sub}"\n\n${HELP}`);
      return 2;
  }
}

function help(): number {
  console.log(HELP);
  return 0;
}
