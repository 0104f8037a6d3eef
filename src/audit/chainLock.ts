import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';

/** Pause between attempts to take a lock another process holds. */
const RETRY_MS = 100;

/**
 * Takes `<path>.lock` for this process: one writer per chain file at a time. Operator commands run as separate
 * processes and would fork the chain if two continued it from the same tail (decision 0030). The lock file holds
 * the owner's pid; a lock whose owner no longer runs (a command killed mid-way) is taken over. Returns the release.
 * @throws Error when another live process holds the lock for longer than `waitMs`
 */
export async function lockChainFile(path: string, waitMs = 10_000): Promise<() => void> {
  const lock = `${path}.lock`;
  const deadline = Date.now() + waitMs;
  for (;;) {
    let fd: number;
    try {
      fd = openSync(lock, 'wx', 0o640);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = ownerOf(lock);
      if (owner !== undefined && !alive(owner)) {
        // Its owner died holding it: nothing writes the chain any more.
        unlinkQuietly(lock);
        continue;
      }
      if (Date.now() >= deadline) {
        throw new Error(
          `${lock} is held by process ${owner ?? '(unknown)'}: another command is writing this audit log`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      continue;
    }
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    return () => unlinkQuietly(lock);
  }
}

function ownerOf(lock: string): number | undefined {
  try {
    const pid = Number(readFileSync(lock, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it runs under another user; only ESRCH says it is gone.
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}
