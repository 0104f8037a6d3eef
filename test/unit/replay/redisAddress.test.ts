import { parseRedisUrl } from '../../../src/replay/redisAddress';

describe('parseRedisUrl', () => {
  it('reads one server with the default port and database', () => {
    expect(parseRedisUrl('redis://10.0.0.5')).toEqual({ nodes: [{ host: '10.0.0.5', port: 6379 }], tls: false, db: 0 });
  });

  it('reads TLS, a user, a password, a database and IPv6', () => {
    expect(parseRedisUrl('rediss://signer:p%40ss@[::1]:6380/2')).toEqual({
      nodes: [{ host: '::1', port: 6380 }],
      tls: true,
      db: 2,
      username: 'signer',
      password: 'p@ss',
    });
  });

  it('reads several addresses (Sentinel or Cluster seeds)', () => {
    expect(parseRedisUrl('redis://s1:26379,s2:26379,s3').nodes).toEqual([
      { host: 's1', port: 26379 },
      { host: 's2', port: 26379 },
      { host: 's3', port: 6379 },
    ]);
  });

  it.each(['http://u:hunter2@x:6379', 'redis://u:hunter2@', 'redis://u:hunter2@h:99999', 'redis://u:hunter2@h:1/x'])(
    'refuses %s without repeating it (it may hold a password)',
    (url) => {
      expect(url).toContain('hunter2');
      let message = '';
      try {
        parseRedisUrl(url);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(/^auth\.replay\.redisUrl: /);
      expect(message).not.toContain('hunter2');
    },
  );
});
