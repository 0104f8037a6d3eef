import { Writable } from 'node:stream';
import pino from 'pino';
import { humanReadable } from '../../../src/observability/logger';

describe('human-readable logs (a terminal)', () => {
  it('writes one readable line per entry, with the level, the message and the fields, not JSON', () => {
    let text = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        text += chunk.toString('utf8');
        cb();
      },
    });
    const log = pino({ level: 'info' }, humanReadable(sink));
    log.info({ requestId: 'R-1', clientAddress: '127.0.0.1', status: 200 }, 'request');
    log.warn('token not ready at start; retrying');
    const lines = text.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(\d+\): request /);
    expect(lines[0]).toContain('"clientAddress":"127.0.0.1"');
    expect(lines[1]).toMatch(/WARN \(\d+\): token not ready at start; retrying/);
    for (const l of lines) expect(() => JSON.parse(l)).toThrow();
  });
});
