import { InlineChooser } from '../../../src/token/thread/inlineChooser';

describe('InlineChooser', () => {
  let now = 0;
  const chooser = (): InlineChooser => new InlineChooser(250, 2000, () => now);
  beforeEach(() => {
    now = 1_000_000;
  });

  it('runs a kind it has never measured inline, to measure it', () => {
    expect(chooser().inline('4161/64')).toBe(true);
  });

  it('keeps a fast kind inline and sends a slow one to the threadpool after its first measurement', () => {
    const c = chooser();
    c.record('ec', 60);
    c.record('rsa', 800);
    expect(c.inline('ec')).toBe(true);
    expect(c.inline('rsa')).toBe(false);
  });

  it('keeps a fast kind inline through a few preempted runs (the minimum of the recent runs counts)', () => {
    const c = chooser();
    c.record('ec', 60);
    for (let i = 0; i < 7; i++) c.record('ec', 20_000);
    expect(c.inline('ec')).toBe(true);
  });

  it('moves a kind to the threadpool once every recent run was slow (the token slowed down)', () => {
    const c = chooser();
    for (let i = 0; i < 8; i++) c.record('ec', 60);
    for (let i = 0; i < 7; i++) c.record('ec', 5_000);
    expect(c.inline('ec')).toBe(true);
    c.record('ec', 5_000);
    expect(c.inline('ec')).toBe(false);
  });

  it('measures a slow kind inline again once per re-probe interval, and takes it back inline when it is fast', () => {
    const c = chooser();
    c.record('hsm', 5_000);
    expect(c.inline('hsm')).toBe(false);
    now += 1999;
    expect(c.inline('hsm')).toBe(false);
    now += 1;
    expect(c.inline('hsm')).toBe(true); // the probe
    expect(c.inline('hsm')).toBe(false); // only one probe per interval
    c.record('hsm', 90);
    expect(c.inline('hsm')).toBe(true);
  });

  it('treats kinds independently', () => {
    const c = chooser();
    c.record('a', 5_000);
    c.record('b', 10);
    expect([c.inline('a'), c.inline('b')]).toEqual([false, true]);
  });
});
