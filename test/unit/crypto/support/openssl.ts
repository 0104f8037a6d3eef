import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The `openssl` CLI as an independent verifier, run in a throwaway directory. */

/** Exit status and text output of one openssl run. */
interface OpensslResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A temporary directory with helpers to write files into it and run openssl there. */
export interface OpensslDir {
  readonly path: string;
  /** Writes a file and returns its absolute path. */
  write(name: string, data: Buffer | string): string;
  read(name: string): Buffer;
  run(args: readonly string[]): OpensslResult;
  remove(): void;
}

/** Creates a fresh temporary directory; call `remove()` in `afterAll`/`finally`. */
export function opensslDir(): OpensslDir {
  const path = mkdtempSync(join(tmpdir(), 'p11bridge-crypto-'));
  return {
    path,
    write(name, data) {
      const file = join(path, name);
      writeFileSync(file, data);
      return file;
    },
    read(name) {
      return readFileSync(join(path, name));
    },
    run(args) {
      const result = spawnSync('openssl', args, { cwd: path, encoding: 'utf8' });
      if (result.error) throw result.error;
      return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    },
    remove() {
      rmSync(path, { recursive: true, force: true });
    },
  };
}
