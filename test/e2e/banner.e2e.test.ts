/**
 * The start banner's SDK examples run as printed (issue 13 item 7): each is cut from the banner text `npm start`
 * prints, written to a file and run with `node` against a daemon; the signature it prints is verified with
 * node:crypto. Module resolution uses this repository's node_modules, where the official SDKs are installed.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { demoBanner, demoExamples, type DemoInfo } from '../../src/cli/demo';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon';
import { nodeVerify } from '../helpers/verify';

let d: TestDaemon;
let info: DemoInfo;
const dir = mkdtempSync(join(tmpdir(), 'p11bridge-banner-'));

beforeAll(async () => {
  d = await startTestDaemon();
  info = {
    endpoint: d.endpoint,
    accessKeyId: d.accessKeyId,
    accessKeySecret: d.accessKeySecret,
    certificates: d.certificates.map((c) => ({ ...c, warehouseId: 1 })),
    keys: [],
  };
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await d.stop();
});

/** The lines of the banner after `heading`, up to the next blank line, without the banner's indentation. */
function printedExample(banner: string, heading: string): string {
  const lines = banner.split('\n');
  const start = lines.findIndex((l) => l.includes(heading));
  expect(start).toBeGreaterThan(-1);
  const body: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '') break;
    body.push(line.replace(/^ {4}/, ''));
  }
  return body.join('\n');
}

/** Runs a script with node (asynchronously: the daemon answers in this process) and returns its output. */
function runNode(file: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [file], {
      env: { ...process.env, NODE_PATH: resolve(__dirname, '..', '..', 'node_modules') },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

describe('the npm start banner', () => {
  const rsaPem = (): string => d.certificates.find((c) => c.keySpec === 'RSA_2048')?.certificatePem ?? '';

  test.each([
    ['CAS', 'CAS, with the official SDK', 'hello'],
    ['KMS', 'KMS, with the official SDK', 'hello'],
  ])('prints a %s example that signs when run as printed', async (name, heading, message) => {
    const banner = demoBanner(info);
    const script = printedExample(banner, heading);
    const examples = demoExamples(info);
    expect([examples.cas.join('\n'), examples.kms.join('\n')]).toContain(script);
    const file = join(dir, `${name}.js`);
    writeFileSync(file, script);
    const r = await runNode(file);
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
    const signature = Buffer.from(r.stdout.trim(), 'base64');
    expect(nodeVerify(rsaPem(), 'pkcs1', Buffer.from(message), signature)).toBe(true);
  });

  test('no longer prints the require that fails ("Config is not a constructor")', () => {
    expect(demoBanner(info)).not.toContain("const { Config } = require('@alicloud/openapi-core')");
  });
});
