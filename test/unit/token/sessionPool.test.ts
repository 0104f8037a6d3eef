import { Pool } from '../../../src/token/sessionPool';

function counterFactory() {
  let next = 0;
  const destroyed: number[] = [];
  return {
    factory: { create: () => ++next, destroy: (n: number): void => void destroyed.push(n) },
    destroyed,
    created: () => next,
  };
}

describe('session pool', () => {
  it('creates at most `size` resources and lends each to one borrower at a time', async () => {
    const { factory, created } = counterFactory();
    const pool = new Pool(factory, { size: 2, maxWaiting: 10, acquireTimeoutMs: 1000 });
    const a = await pool.acquire();
    const b = await pool.acquire();
    expect(a).not.toBe(b);
    const c = pool.acquire();
    expect(pool.waiting).toBe(1);
    pool.release(a);
    await expect(c).resolves.toBe(a);
    expect(created()).toBe(2);
    expect(pool.inUse).toBe(2);
  });

  it('refuses at once with a busy fault when the wait queue is full', async () => {
    const { factory } = counterFactory();
    const pool = new Pool(factory, { size: 1, maxWaiting: 1, acquireTimeoutMs: 1000 });
    await pool.acquire();
    const waiting = pool.acquire();
    await expect(pool.acquire()).rejects.toMatchObject({ kind: 'busy' });
    pool.close();
    await expect(waiting).rejects.toMatchObject({ kind: 'unavailable' });
  });

  it('refuses a borrower that waited longer than acquireTimeoutMs', async () => {
    const { factory } = counterFactory();
    const pool = new Pool(factory, { size: 1, maxWaiting: 5, acquireTimeoutMs: 20 });
    await pool.acquire();
    await expect(pool.acquire()).rejects.toMatchObject({ kind: 'busy' });
    expect(pool.waiting).toBe(0);
  });

  it('replaces a discarded resource with a fresh one for the next waiter', async () => {
    const { factory, destroyed } = counterFactory();
    const pool = new Pool(factory, { size: 1, maxWaiting: 5, acquireTimeoutMs: 1000 });
    const a = await pool.acquire();
    const next = pool.acquire();
    pool.discard(a);
    expect(destroyed).toEqual([a]);
    const b = await next;
    expect(b).not.toBe(a);
    expect(pool.live).toBe(1);
  });

  it('destroys lent resources when they come back after close', async () => {
    const { factory, destroyed } = counterFactory();
    const pool = new Pool(factory, { size: 2, maxWaiting: 5, acquireTimeoutMs: 1000 });
    const a = await pool.acquire();
    const b = await pool.acquire();
    pool.release(b);
    pool.close();
    expect(destroyed).toEqual([b]);
    pool.release(a);
    expect(destroyed).toEqual([b, a]);
    await expect(pool.acquire()).rejects.toMatchObject({ kind: 'unavailable' });
  });

  it('ignores a double release', async () => {
    const { factory } = counterFactory();
    const pool = new Pool(factory, { size: 1, maxWaiting: 5, acquireTimeoutMs: 1000 });
    const a = await pool.acquire();
    pool.release(a);
    pool.release(a);
    expect(await pool.acquire()).toBe(a);
    await expect(Promise.race([pool.acquire(), new Promise((r) => setTimeout(() => r('blocked'), 30))])).resolves.toBe(
      'blocked',
    );
  });
});
