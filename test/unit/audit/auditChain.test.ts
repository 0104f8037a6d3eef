import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditChain, type AuditChainOptions, type CheckpointSigner } from '../../../src/audit/auditChain';
import { checkpointPayload, keyFingerprint, lineHash } from '../../../src/audit/entry';
import { verifyAuditFiles, type AuditFileText } from '../../../src/audit/verify';
import { ApiError } from '../../../src/errors/apiError';
import { silentLogger } from '../../../src/observability/logger';

/**
 * The chain, its files and their verification, without a token: the checkpoint signer here is a software EC key
 * standing in for the token's audit key (test/e2e/audit.e2e.test.ts signs with the real one in SoftHSM2).
 */
function softwareSigner(): CheckpointSigner & { publicKey: KeyObject; privateKey: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    publicKey,
    privateKey,
    spki: publicKey.export({ type: 'spki', format: 'der' }),
    sign: (payload) => Promise.resolve(sign('sha256', payload, privateKey)),
  };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'p11bridge-audit-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function options(signer: CheckpointSigner | undefined, over: Partial<AuditChainOptions> = {}): AuditChainOptions {
  return {
    path: join(dir, 'audit.jsonl'),
    chain: 'main',
    durability: 'write',
    writeTimeoutMs: 2000,
    checkpointEntries: 100,
    checkpointSeconds: 3600,
    rotateBytes: 100 * 1024 * 1024,
    rotateAgeSeconds: 0,
    signer: () => signer,
    log: silentLogger(),
    ...over,
  };
}

/** Appends `n` sign entries the way the request auditor does, letting checkpoints interleave. */
async function fill(chain: AuditChain, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    chain.append('sign', { requestId: `R${i}`, accessKeyId: 'AK', identity: 'rsa', dataSha256: lineHash(`m${i}`) });
    if (i % 50 === 49) await new Promise((r) => setImmediate(r));
  }
}

function files(): AuditFileText[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith('audit.jsonl'))
    .map((name) => ({ name, text: readFileSync(join(dir, name), 'utf8') }));
}

function lines(): string[] {
  return readFileSync(join(dir, 'audit.jsonl'), 'utf8').split('\n').slice(0, -1);
}

/** Writes the log back with `edit` applied to its lines. */
function rewrite(edit: (l: string[]) => string[]): AuditFileText[] {
  const text = `${edit(lines()).join('\n')}\n`;
  return [{ name: 'audit.jsonl', text }];
}

/** A log of 3,000 operations with checkpoints every 100 entries, verified once. */
async function writtenLog(signer = softwareSigner()): Promise<typeof signer> {
  const chain = AuditChain.open(options(signer), { required: false });
  await fill(chain, 3000);
  await chain.close();
  return signer;
}

function lineOfSeq(all: string[], seq: number): number {
  return all.findIndex((l) => l.startsWith(`{"seq":${seq},`));
}

describe('audit chain', () => {
  it('verifies a log of 3,000 operations and every checkpoint in it, with and without the pinned key', async () => {
    const signer = await writtenLog();
    const [report] = verifyAuditFiles(files());
    expect(report).toMatchObject({ chain: 'main', firstSeq: 1, failure: undefined, startsMidChain: false });
    expect(report?.lastSeq).toBeGreaterThan(3000);
    expect(report?.checkpoints).toBeGreaterThanOrEqual(30);
    // close() signs the head last: nothing is left unsigned (the final checkpoint entry is not an event).
    expect(report?.unsignedTail).toBe(0);
    expect(report?.keys).toEqual([keyFingerprint(signer.spki)]);
    expect(verifyAuditFiles(files(), [signer.publicKey])[0]?.failure).toBeUndefined();
  });

  it('locates an edited field at the entry after it', async () => {
    await writtenLog();
    const all = lines();
    const at = lineOfSeq(all, 1234);
    const [report] = verifyAuditFiles(
      rewrite((l) => l.map((x, i) => (i === at ? x.replace('"accessKeyId":"AK"', '"accessKeyId":"XX"') : x))),
    );
    expect(report?.failure).toBe(
      `audit.jsonl:${at + 2}: entry seq 1235 does not chain to the entry before it (seq 1234): that entry, or this one's prev, was altered`,
    );
  });

  it('names a deleted entry', async () => {
    await writtenLog();
    const at = lineOfSeq(lines(), 700);
    const [report] = verifyAuditFiles(rewrite((l) => l.filter((_, i) => i !== at)));
    expect(report?.failure).toBe(
      `audit.jsonl:${at + 1}: entry seq 701 follows seq 699: entry 700 is missing (deleted)`,
    );
  });

  it('names two swapped entries', async () => {
    await writtenLog();
    const at = lineOfSeq(lines(), 2000);
    const [report] = verifyAuditFiles(
      rewrite((l) => {
        const out = [...l];
        [out[at], out[at + 1]] = [out[at + 1] as string, out[at] as string];
        return out;
      }),
    );
    expect(report?.failure).toBe(
      `audit.jsonl:${at + 1}: entry seq 2001 comes before seq 2000 (at line ${at + 2}): entries were reordered`,
    );
  });

  it('names a file cut in the middle of an entry', async () => {
    await writtenLog();
    const text = readFileSync(join(dir, 'audit.jsonl'), 'utf8');
    const cut = text.length - 40;
    const [report] = verifyAuditFiles([{ name: 'audit.jsonl', text: text.slice(0, cut) }]);
    const line = text.slice(0, cut).split('\n').length;
    expect(report?.failure).toBe(
      `audit.jsonl:${line}: not a complete audit entry (the file was truncated or the line edited)`,
    );
  });

  it('refuses a checkpoint re-signed with another key, at the checkpoint', async () => {
    await writtenLog();
    const all = lines();
    const at = all.findIndex((l) => l.includes('"type":"checkpoint"'));
    const forger = softwareSigner();
    const forged = rewrite((l) =>
      l.map((x, i) => {
        if (i !== at) return x;
        const e = JSON.parse(x) as { headSeq: number; head: string };
        const sig = sign('sha256', checkpointPayload('main', e.headSeq, e.head), forger.privateKey).toString('base64');
        return x.replace(/"signature":"[^"]*"/, `"signature":"${sig}"`);
      }),
    );
    const [report] = verifyAuditFiles(forged);
    expect(report?.failure).toMatch(
      new RegExp(`^audit\\.jsonl:${at + 1}: checkpoint seq \\d+ signature does not verify`),
    );
  });

  it('catches a whole log rewritten and re-signed by a forger only when the audit key is pinned', async () => {
    const real = await writtenLog();
    rmSync(join(dir, 'audit.jsonl'));
    await writtenLog(softwareSigner());
    expect(verifyAuditFiles(files())[0]?.failure).toBeUndefined();
    expect(verifyAuditFiles(files(), [real.publicKey])[0]?.failure).toMatch(
      /^audit\.jsonl:\d+: checkpoint seq \d+ is signed by key [0-9a-f]{64}, not by the pinned audit key$/,
    );
  });

  it('keeps the chain across rotated files, verified in any order, and names a file missing from the middle', async () => {
    const chain = AuditChain.open(options(softwareSigner(), { rotateBytes: 64 * 1024 }), { required: false });
    await fill(chain, 1500);
    await chain.close();
    const all = files();
    expect(all.length).toBeGreaterThanOrEqual(4);
    const [report] = verifyAuditFiles([...all].reverse());
    expect(report).toMatchObject({ failure: undefined, firstSeq: 1, files: expect.any(Array) });
    expect(report?.files[report.files.length - 1]).toBe('audit.jsonl');
    // Rotated files by their last sequence number, then the current file.
    const sorted = [...all].sort((a, b) =>
      a.name === 'audit.jsonl' ? 1 : b.name === 'audit.jsonl' ? -1 : a.name.localeCompare(b.name),
    );
    // The second rotated file removed: its entries are missing between the first and the third.
    const [gap] = verifyAuditFiles(sorted.filter((_, i) => i !== 1));
    expect(gap?.failure).toMatch(/entries \d+\.\.\d+ are missing \(deleted\)$/);
    // Only the newest files: the chain starts mid-way and says so.
    const [tail] = verifyAuditFiles(sorted.slice(-2));
    expect(tail).toMatchObject({ failure: undefined, startsMidChain: true });
  });

  it('continues the chain after a restart and cuts an incomplete last line left by a crash', async () => {
    const signer = softwareSigner();
    let chain = AuditChain.open(options(signer), { required: false });
    await fill(chain, 10);
    await chain.close();
    writeFileSync(join(dir, 'audit.jsonl'), '{"seq":99,"time":"2026', { flag: 'a' });
    chain = AuditChain.open(options(signer), { required: false });
    await fill(chain, 10);
    await chain.close();
    const [report] = verifyAuditFiles(files());
    expect(report).toMatchObject({ failure: undefined, firstSeq: 1 });
    const restart = lines().find((l) => l.includes('"reason":"start"') && l.includes('"recovered"'));
    expect(restart).toContain('cut 22 bytes of an incomplete last line');
  });

  it('makes lazy fields after the appending turn, in call order with the times of their calls', async () => {
    let t = Date.parse('2026-12-06T03:00:00.000Z');
    const chain = AuditChain.open(options(softwareSigner(), { now: () => t }), { required: false });
    const made: string[] = [];
    const lazy = (id: string) => (): object => {
      made.push(id);
      return { requestId: id };
    };
    chain.append('sign', lazy('A'));
    t += 1500;
    const written = chain.appendWritten('sign', lazy('B'));
    chain.append('sign', () => {
      throw new Error('a bug in a field maker');
    });
    t += 1;
    chain.append('sign', lazy('C'));
    // Still in the request's turn: nothing formatted or hashed yet.
    expect(made).toEqual([]);
    await written;
    expect(made).toEqual(['A', 'B', 'C']);
    await chain.close();
    const entries = lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.slice(1, 5).map((e) => [e.requestId, e.time, e.fieldsError])).toEqual([
      ['A', '2026-12-06T03:00:00.000Z', undefined],
      ['B', '2026-12-06T03:00:01.500Z', undefined],
      [undefined, '2026-12-06T03:00:01.500Z', 'the entry could not be completed'],
      ['C', '2026-12-06T03:00:01.501Z', undefined],
    ]);
    expect(verifyAuditFiles(files())[0]?.failure).toBeUndefined();
  });

  it('writes a lingering batch in the turn of a later entry once it is 8 ms old, without its timer', async () => {
    // Timers and the clock are fake and never advanced by timers: only a later entry's turn can write the batch.
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    try {
      const chain = AuditChain.open(options(softwareSigner()), { required: false });
      const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
      await chain.appendWritten('reload', { outcome: 'OK' });
      const start = lines().length;
      chain.append('sign', { requestId: 'A' });
      jest.setSystemTime(Date.now() + 2);
      chain.append('sign', { requestId: 'B' });
      await turn();
      expect(lines()).toHaveLength(start);
      jest.setSystemTime(Date.now() + 5);
      chain.append('sign', { requestId: 'B2' });
      await turn();
      expect(lines()).toHaveLength(start);
      jest.setSystemTime(Date.now() + 1);
      chain.append('sign', { requestId: 'C' });
      await turn();
      expect(
        lines()
          .slice(start)
          .map((l) => (JSON.parse(l) as { requestId: string }).requestId),
      ).toEqual(['A', 'B', 'B2', 'C']);
      await chain.close(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it('reports entries after the last checkpoint as an unsigned tail', async () => {
    const signer = softwareSigner();
    const chain = AuditChain.open(options(signer), { required: false });
    await fill(chain, 250);
    await new Promise((r) => setTimeout(r, 50));
    // No close(): the process died before its last checkpoint.
    await new Promise((r) => setTimeout(r, 50));
    const [report] = verifyAuditFiles(files());
    expect(report?.failure).toBeUndefined();
    expect(report?.signedThrough).toBeGreaterThanOrEqual(200);
    expect(report?.unsignedTail).toBeGreaterThan(0);
    expect(report?.unsignedTail).toBeLessThanOrEqual((report?.lastSeq ?? 0) - (report?.signedThrough ?? 0));
    await chain.close();
  });

  it('refuses a required entry with ServiceUnavailable when the file cannot be written (/dev/full)', async () => {
    if (!existsSync('/dev/full')) throw new Error('this test needs /dev/full (Linux)');
    const chain = AuditChain.open(options(softwareSigner(), { path: '/dev/full' }), { required: true });
    const written = chain.appendWritten('sign', { requestId: 'R1' });
    await expect(written).rejects.toBeInstanceOf(ApiError);
    await expect(written).rejects.toMatchObject({ code: 'ServiceUnavailable' });
    expect(chain.failing).toBe(true);
    // While failing, the next one is refused at once.
    await expect(chain.appendWritten('sign', { requestId: 'R2' })).rejects.toMatchObject({
      code: 'ServiceUnavailable',
    });
    await chain.close(200);
  });

  it('refuses to start a required chain whose file cannot be opened', () => {
    expect(() =>
      AuditChain.open(options(undefined, { path: join(dir, 'missing', 'audit.jsonl') }), { required: true }),
    ).toThrow(/audit file .* cannot be opened/);
  });
});
