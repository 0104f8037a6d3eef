import { open, readFile, stat, unlink } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';

/** How long a writer waits for the lock, and when a lock is so old that its holder must be gone. */
export interface LockTimes {
  readonly waitMs: number;
  readonly staleMs: number;
}

const DEFAULT_TIMES: LockTimes = { waitMs: 10000, staleMs: 30000 };

/** The lock was not had within `waitMs`: another writer holds it (or a stale one could not be cleared). */
export class LockTimeout extends Error {
  constructor(path: string, waitMs: number) {
    super(`the lock ${path} was held by another writer for ${waitMs} ms`);
    this.name = 'LockTimeout';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists under another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Clears a lock whose holder is gone (its process no longer exists on this host) or that is older than `staleMs`
 * (a holder stuck that long is not coming back). Only the lock as read is removed: if it changed meanwhile
 * (another writer cleared and took it) it is left alone. A writer that takes the lock within that check's window
 * could still lose it; record writes last milliseconds, and two writers at once cost a lost update, never a
 * damaged file (writes are atomic renames).
 */
async function clearIfStale(lockPath: string, staleMs: number): Promise<void> {
  let content: string;
  let age: number;
  try {
    content = await readFile(lockPath, 'utf8');
    age = Date.now() - (await stat(lockPath)).mtimeMs;
  } catch {
    return;
  }
  const pid = Number.parseInt(content, 10);
  const gone = Number.isInteger(pid) && pid > 0 && !alive(pid);
  if (!gone && age < staleMs) return;
  const now = await readFile(lockPath, 'utf8').catch(() => undefined);
  if (now === content) await unlink(lockPath).catch(() => undefined);
}

/**
 * Runs `fn` holding an exclusive lock file `<path>.lock` (created with O_EXCL, holding this process id): the
 * writers of one record file (cluster workers, CLI commands) take turns. Readers need no lock (writes are atomic
 * renames).
 */
export async function withFileLock<T>(
  path: string,
  fn: () => Promise<T>,
  times: LockTimes = DEFAULT_TIMES,
): Promise<T> {
  const lockPath = `${path}.lock`;
  const until = Date.now() + times.waitMs;
  for (;;) {
    try {
      const f = await open(lockPath, 'wx', 0o600);
      try {
        await f.writeFile(`${process.pid}\n`, 'utf8');
      } finally {
        await f.close();
      }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (Date.now() >= until) throw new LockTimeout(lockPath, times.waitMs);
      await clearIfStale(lockPath, times.staleMs);
      await delay(10 + Math.floor(Math.random() * 20));
    }
  }
  try {
    return await fn();
  } finally {
    await unlink(lockPath).catch(() => undefined);
  }
}
