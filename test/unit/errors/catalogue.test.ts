import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CATALOGUE } from '../../../src/errors/catalogue';

/** Rows of the catalogue table in docs/errors.md: | `Code` | status | message | */
function documentedErrors(): Map<string, { status: number; message: string }> {
  const md = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'errors.md'), 'utf8');
  const out = new Map<string, { status: number; message: string }>();
  for (const line of md.split('\n')) {
    const m = /^\| `([^`]+)` \| (\d{3}) \| (.+?) \|$/.exec(line.trim());
    if (m) out.set(m[1] as string, { status: Number(m[2]), message: m[3] as string });
  }
  return out;
}

describe('error catalogue', () => {
  it('is identical to the table in docs/errors.md (code, HTTP status, message)', () => {
    const documented = documentedErrors();
    const actual = new Map(
      Object.entries(ERROR_CATALOGUE).map(([k, v]) => [k, { status: v.status, message: v.message }]),
    );
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries(actual));
  });

  it('gives every client error a 4xx status and every server error a 5xx status', () => {
    for (const [code, e] of Object.entries(ERROR_CATALOGUE)) {
      const serverSide = [
        'InternalError',
        'ServiceUnavailable',
        'InternalFailure',
        'ServiceUnavailableTemporary',
      ].includes(code);
      expect([code, serverSide ? e.status >= 500 : e.status < 500]).toEqual([code, true]);
    }
  });
});
