/**
 * `npm run bench:replay`: the CPU one nonce claim costs, by replay store, measured without HTTP or a token (those
 * are `npm run bench`'s): the memory store in cluster mode (a worker's SharedNonceStore → node:cluster IPC → the
 * primary's NonceCache and back), and the Redis store (ioredis `SET NX PX`, and the rate script), with a
 * redis-server of its own. Claims are sent one per event-loop turn (batch 1: a request at a time, as at a steady
 * moderate rate) and eight per turn (as under closed-loop load). CPU is process time (user + system), so a busy
 * machine slows the run but changes the figures less than wall-clock ones.
 */
import cluster from 'node:cluster';
import { NonceCache } from '../../src/api/auth/replayCache';
import { validateConfig } from '../../src/config/load';
import { isNonceClaims, isNonceResults, type NonceClaimsMessage } from '../../src/cluster/messages';
import { answerNonceClaims } from '../../src/cluster/nonceAuthority';
import { SharedNonceStore } from '../../src/cluster/sharedNonceStore';
import type { NonceStore } from '../../src/api/auth/nonceStore';
import { createLogger } from '../../src/observability/logger';
import { RedisLink } from '../../src/replay/redisLink';
import { RedisNonceStore } from '../../src/replay/redisNonceStore';
import { RedisServer } from '../helpers/redisServer';

const CLAIMS = 20_000;
const WARMUP = 2_000;
const BATCHES = [1, 8] as const;
const KEY = 'LTAI5tBENCHREPLAY0001';

interface Result {
  store: string;
  batch: number;
  /** µs per claim in the serving process (the worker). */
  servingUs: number;
  /** µs per claim in the other process that holds the window (the primary, or redis-server). */
  holderUs: number;
}

const cpuUs = (): number => {
  const c = process.cpuUsage();
  return c.user + c.system;
};

/** Claims `n` fresh nonces, `batch` per event-loop turn. */
async function claim(store: NonceStore, n: number, batch: number, tag: string): Promise<void> {
  for (let i = 0; i < n; i += batch) {
    const turn: Array<boolean | Promise<boolean>> = [];
    for (let j = 0; j < batch; j++)
      turn.push(store.checkAndRecord(KEY, `${tag}-${i + j}-0123456789abcdef`, Date.now()));
    const fresh = await Promise.all(turn);
    if (fresh.some((f) => !f)) throw new Error('a fresh nonce was refused');
  }
}

/** The cluster worker: claims through the primary, reports its own CPU per claim. */
async function worker(): Promise<void> {
  const send = (m: unknown): void => void process.send?.(m);
  const store = new SharedNonceStore((m: NonceClaimsMessage) => send(m));
  process.on('message', (m: unknown) => {
    if (isNonceResults(m)) store.receive(m);
  });
  for (const batch of BATCHES) {
    await claim(store, WARMUP, batch, `w${batch}`);
    send({ bench: 'start' });
    await new Promise((r) => setTimeout(r, 50));
    const before = cpuUs();
    await claim(store, CLAIMS, batch, `m${batch}`);
    send({ bench: 'done', batch, servingUs: (cpuUs() - before) / CLAIMS });
  }
  process.exit(0);
}

/** The memory store in cluster mode: one worker, the primary holding the window. */
function memoryStore(): Promise<Result[]> {
  return new Promise((resolve, reject) => {
    cluster.setupPrimary({ exec: __filename, args: ['worker'] });
    const cache = new NonceCache();
    const w = cluster.fork();
    const results: Result[] = [];
    let start = 0;
    w.on('message', (m: unknown) => {
      if (isNonceClaims(m)) {
        w.send(answerNonceClaims(cache, m));
        return;
      }
      const b = m as { bench?: string; batch?: number; servingUs?: number };
      if (b.bench === 'start') start = cpuUs();
      else if (b.bench === 'done') {
        results.push({
          store: 'memory (cluster IPC)',
          batch: b.batch ?? 0,
          servingUs: b.servingUs ?? 0,
          holderUs: (cpuUs() - start) / CLAIMS,
        });
      }
    });
    w.on('exit', (code) => (code === 0 ? resolve(results) : reject(new Error(`the worker exited with ${code}`))));
  });
}

/** The Redis store, without and with a rate on the key (the script). */
async function redisStore(): Promise<Result[]> {
  const redis = await RedisServer.start();
  const results: Result[] = [];
  try {
    for (const rated of [false, true]) {
      const config = validateConfig(
        {
          tokens: [{ warehouseId: 1, name: 'bench', tokenLabel: 'bench', pin: { env: 'UNUSED' } }],
          auth: {
            replay: { store: 'redis', redisUrl: redis.url, redisTimeoutMs: 5000 },
            accessKeys: [{ id: KEY, secret: { env: 'UNUSED' }, ...(rated ? { qps: 1e9, burst: 1e9 } : {}) }],
          },
        },
        {},
      );
      const link = new RedisLink(config.auth.replay, createLogger('silent'));
      const store = new RedisNonceStore(link, config);
      while (!link.usable()) await new Promise((r) => setTimeout(r, 10));
      for (const batch of BATCHES) {
        await claim(store, WARMUP, batch, `w${rated}${batch}`);
        const [own, server] = [cpuUs(), redis.cpuUs()];
        await claim(store, CLAIMS, batch, `m${rated}${batch}`);
        results.push({
          store: rated ? 'redis, key with a rate (script)' : 'redis (SET NX PX)',
          batch,
          servingUs: (cpuUs() - own) / CLAIMS,
          holderUs: (redis.cpuUs() - server) / CLAIMS,
        });
      }
      await link.close();
    }
  } finally {
    await redis.cleanup();
  }
  return results;
}

async function main(): Promise<void> {
  const rows = [...(await memoryStore()), ...(await redisStore())];
  console.log(`replay store CPU per nonce claim (${CLAIMS} claims per row, µs, process time)`);
  console.log('store                              batch  serving process  window holder   total');
  for (const r of rows) {
    console.log(
      `${r.store.padEnd(34)} ${String(r.batch).padStart(5)}  ${r.servingUs.toFixed(1).padStart(15)}  ` +
        `${r.holderUs.toFixed(1).padStart(13)}  ${(r.servingUs + r.holderUs).toFixed(1).padStart(6)}`,
    );
  }
  console.log('window holder: the cluster primary (memory) or redis-server (10 ms resolution); serving: the worker');
}

if (cluster.isWorker) {
  void worker();
} else {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error('bench:replay failed:', e);
      process.exit(1);
    },
  );
}
