import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/**
 * The process logger: JSON lines on stdout, or human-readable lines when stdout is a terminal (`format: 'auto'`,
 * config `logging.format`; {@link humanReadable}). Secrets never reach it by construction: PINs and AccessKeySecrets
 * are `Secret` values that serialise as `[redacted]` and are revealed only where consumed, and request
 * parameters are never logged (the access line carries ids, status and latency only). No redaction pass runs
 * per line: it cost about a third of the access log's CPU on the signing path (docs/performance.md).
 * Lines are written in 3 KiB batches off the request path, and at least every {@link LOG_FLUSH_INTERVAL_MS}
 * so a quiet daemon's lines (listening, a worker restart, an error) still reach the operator at once;
 * `flush()` runs at shutdown.
 */
export function createLogger(level: string, destination?: pino.DestinationStream, format: LogFormat = 'auto'): Logger {
  if (destination) return pino({ level, base: { pid: process.pid } }, destination);
  if (format === 'pretty' || (format === 'auto' && process.stdout.isTTY)) {
    return pino({ level, base: { pid: process.pid } }, humanReadable());
  }
  // A batch is written once it holds 3 KiB: with lines under 1 KiB every write stays within PIPE_BUF (4 KiB),
  // which a pipe keeps whole, so the lines of several cluster workers sharing stdout never interleave mid-line.
  const buffered = pino.destination({ sync: false, minLength: 3072 });
  const timer = setInterval(() => {
    try {
      buffered.flush();
    } catch {
      clearInterval(timer); // destroyed: the process is ending
    }
  }, LOG_FLUSH_INTERVAL_MS);
  timer.unref();
  return pino({ level, base: { pid: process.pid } }, buffered);
}

/** `auto`: human-readable on a terminal, JSON lines anywhere else (config `logging.format`). */
export type LogFormat = 'auto' | 'json' | 'pretty';

/**
 * Lines for a person at a terminal (`npm start`): time, level, message, then the fields, one line each (to stdout,
 * in colour, unless another destination is given). Written
 * synchronously: at a terminal nobody measures throughput, and an exit must not lose the last lines.
 */
export function humanReadable(destination?: NodeJS.WritableStream): pino.DestinationStream {
  return pretty({
    ...(destination ? { destination } : {}),
    colorize: destination === undefined,
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'hostname',
    singleLine: true,
  });
}

/** Longest time a log line waits in the write buffer. */
const LOG_FLUSH_INTERVAL_MS = 500;

/** A logger that drops everything (tests, CLI). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
