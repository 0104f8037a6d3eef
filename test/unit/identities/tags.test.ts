import { ApiError } from '../../../src/errors/apiError';
import { changedTags, checkTagKey, MAX_TAGS_PER_RESOURCE } from '../../../src/identities/tags';

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (e) {
    return e instanceof ApiError ? e.code : 'not an ApiError';
  }
};

describe('resource tags', () => {
  it('sets, replaces and removes tags without touching the input', () => {
    const before = { a: '1', b: '2' };
    expect(changedTags(before, { b: '3', c: '4' }, ['a', 'absent'])).toEqual({ b: '3', c: '4' });
    expect(before).toEqual({ a: '1', b: '2' });
  });

  it('refuses empty, over-long, cloud-reserved and p11bridge-reserved tag keys with InvalidParameter', () => {
    for (const key of ['', 'x'.repeat(129), 'aliyun-x', 'acs:x', 'p11bridge:createdBy']) {
      expect([key, codeOf(() => checkTagKey(key))]).toEqual([key, 'InvalidParameter']);
    }
    expect(codeOf(() => checkTagKey('x'.repeat(128)))).toBeUndefined();
  });

  it(`refuses more than ${MAX_TAGS_PER_RESOURCE} tags on one resource, counting what is already there`, () => {
    const full = Object.fromEntries(Array.from({ length: MAX_TAGS_PER_RESOURCE }, (_, i) => [`k${i}`, 'v']));
    expect(Object.keys(changedTags(full, { k0: 'new' }, [])).length).toBe(MAX_TAGS_PER_RESOURCE);
    expect(codeOf(() => changedTags(full, { extra: 'v' }, []))).toBe('UnsupportedOperation');
    expect(Object.keys(changedTags(full, { extra: 'v' }, ['k0'])).length).toBe(MAX_TAGS_PER_RESOURCE);
  });
});
