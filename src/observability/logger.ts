import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * The process logger: JSON lines on stdout. Secrets never reach it by construction: PINs and AccessKeySecrets
 * are `Secret` values that serialise as `[redacted]` and are revealed only where consumed, and request
 * parameters are never logged (the access line carries ids, status and latency only). No redaction pass runs
 * per line: it cost about a third of the access log's CPU on the signing path (docs/performance.md).
 * Lines are written in 4 KiB batches off the request path; `flush()` runs at shutdown.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { pid: process.pid } }, destination ?? pino.destination({ sync: false, minLength: 4096 }));
}

/** A logger that drops everything (tests, CLI). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
