import { randomInt } from 'node:crypto';

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomAlnum(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += ALNUM[randomInt(ALNUM.length)];
  return s;
}

/**
 * A new AccessKey pair in the cloud's format: a 24-character id starting `LTAI5t` and a 30-character
 * alphanumeric secret (what the RAM console issues today).
 */
export function newAccessKey(): { accessKeyId: string; accessKeySecret: string } {
  return { accessKeyId: `LTAI5t${randomAlnum(18)}`, accessKeySecret: randomAlnum(30) };
}
