import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * The process logger: JSON lines on stdout. Secrets never reach it: PINs and AccessKeySecrets are
 * `Secret` values that serialise as `[redacted]`, request parameters are never logged (only their names),
 * and these paths are censored as a second line of defence.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: {
        paths: ['pin', '*.pin', 'secret', '*.secret', 'accessKeySecret', '*.accessKeySecret', 'Message', '*.Message'],
        censor: '[redacted]',
      },
    },
    destination ?? pino.destination({ sync: false }),
  );
}

/** A logger that drops everything (tests, CLI). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
