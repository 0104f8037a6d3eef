/**
 * `npm run bench:audit [-- --entries N --repeat N]`: the audit log's own CPU per private-key
 * operation (issue 18: at most 20 µs of server CPU per request), measured where the full bench cannot see it: on a
 * shared machine `npm run bench -- --audit write` moves the daemon's CPU per request by more than 20 µs from one
 * run to the next whatever the audit does. This runs the request auditor the RPC handler calls, with the facts of a
 * CertificatePrivateKeySign answer (a 64-byte message, an RSA-2048 signature), eight requests per event-loop turn as
 * at c=8 (and, for `required1`, one at a time), into a real file, and reads the process CPU (user + system, every thread: the write(2) calls of the
 * threadpool count). Checkpoints are signed with a software P-256 key here, once per 1,000 entries: in the token
 * that is one C_Sign per 1,000 requests, under 2 µs per request on SoftHSM2.
 */
import { generateKeyPairSync, randomBytes, randomUUID, sign } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AuditChain } from '../../src/audit/auditChain';
import { requestAuditor } from '../../src/audit/requestAudit';
import { silentLogger } from '../../src/observability/logger';
import type { RequestOutcome } from '../../src/observability/requestOutcome';

/** `required1`: required, one request at a time (every entry its own write(2): the worst case). */
type Mode = 'write' | 'required' | 'required1' | 'fsync';

async function run(mode: Mode, entries: number): Promise<{ cpuUs: number; bytes: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'p11bridge-auditcost-'));
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const chain = AuditChain.open(
    {
      path: join(dir, 'audit.jsonl'),
      chain: 'main',
      durability: mode === 'fsync' ? 'fsync' : 'write',
      writeTimeoutMs: 5000,
      checkpointEntries: 1000,
      checkpointSeconds: 60,
      rotateBytes: 1 << 30,
      rotateAgeSeconds: 0,
      signer: () => ({ spki, sign: (p) => Promise.resolve(sign('sha256', p, privateKey)) }),
      log: silentLogger(),
    },
    { required: mode !== 'write' },
  );
  const observe = requestAuditor(chain, {
    required: mode !== 'write',
    rawMessageEncoding: () => 'utf8',
    refusalsPerSecond: 20,
    refusalBurst: 100,
  });
  const message = randomBytes(64).toString('base64');
  const signature = randomBytes(256).toString('base64');
  const outcome = (): RequestOutcome => ({
    requestId: randomUUID().toUpperCase(),
    accessKeyId: 'LTAI5tBenchAccessKey0001',
    client: '127.0.0.1',
    product: 'kms',
    action: 'CertificatePrivateKeySign',
    status: 200,
    code: undefined,
    params: {
      CertificateId: '7a1c2f4e-0d7b-4c51-9d0e-5b8f3c2a1e90',
      Algorithm: 'RSA_PKCS1_SHA_256',
      MessageType: 'RAW',
      Message: message,
    },
    result: { CertificateId: '7a1c2f4e-0d7b-4c51-9d0e-5b8f3c2a1e90', SignatureValue: signature },
  });
  // The outcome objects are built by the RPC handler anyway (its trace); building them is not the audit's cost.
  const per = mode === 'required1' ? 1 : 8;
  const batch = Array.from({ length: per }, outcome);
  const before = process.cpuUsage();
  for (let i = 0; i < entries; i += per) {
    const waits = batch.map((o) => observe(o));
    if (mode !== 'write') await Promise.all(waits);
    else await new Promise((r) => setImmediate(r));
  }
  await chain.close();
  const used = process.cpuUsage(before);
  const bytes = statSync(join(dir, 'audit.jsonl')).size;
  rmSync(dir, { recursive: true, force: true });
  return { cpuUs: (used.user + used.system) / entries, bytes: bytes / entries };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { entries: { type: 'string', default: '40000' }, repeat: { type: 'string', default: '5' } },
  });
  const entries = Number(values.entries);
  const repeat = Number(values.repeat);
  const results: Record<Mode, number[]> = { write: [], required: [], required1: [], fsync: [] };
  let bytes = 0;
  await run('write', 2000); // warm-up: JIT, file system
  for (let r = 0; r < repeat; r++) {
    for (const mode of ['write', 'required', 'required1', 'fsync'] as const) {
      const res = await run(mode, mode === 'fsync' || mode === 'required1' ? Math.min(entries, 8000) : entries);
      results[mode].push(res.cpuUs);
      bytes = res.bytes;
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  for (const mode of ['write', 'required', 'required1', 'fsync'] as const) {
    const xs = results[mode];
    console.log(
      `audit ${mode.padEnd(8)} CPU per entry: median ${median(xs).toFixed(1)} µs (runs: ${xs.map((x) => x.toFixed(1)).join(', ')})`,
    );
  }
  console.log(`entry size: ${bytes.toFixed(0)} bytes`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
