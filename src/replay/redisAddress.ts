/** One Redis node, sentinel or cluster seed. */
interface RedisNode {
  host: string;
  port: number;
}

/** What `auth.replay.redisUrl` names: the nodes, the database, the user, and whether to speak TLS. */
export interface RedisAddress {
  nodes: RedisNode[];
  tls: boolean;
  db: number;
  username?: string;
  password?: string;
}

/**
 * Parses `redis[s]://[user[:password]@]host[:port][,host[:port]…][/db]`. Several addresses are for Sentinel and
 * Cluster (ioredis takes a URL for one server only). Throws with a message that never repeats the URL (it may
 * hold a password).
 */
export function parseRedisUrl(url: string): RedisAddress {
  const m = /^(rediss?):\/\/(?:([^@/]*)@)?([^/?#]+)(?:\/(\d*))?$/.exec(url.trim());
  if (!m) throw new Error('auth.replay.redisUrl: expected redis://[user@]host:port[,host:port…][/db]');
  const [, scheme, userinfo, hosts, db] = m;
  const nodes = (hosts ?? '').split(',').map((h): RedisNode => {
    const hm = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(h.trim());
    if (!hm) throw new Error('auth.replay.redisUrl: an address is not host[:port]');
    const port = hm[2] === undefined ? 6379 : Number(hm[2]);
    if (port < 1 || port > 65535) throw new Error('auth.replay.redisUrl: a port is out of range');
    return { host: (hm[1] ?? '').replace(/^\[|\]$/g, ''), port };
  });
  const out: RedisAddress = { nodes, tls: scheme === 'rediss', db: db ? Number(db) : 0 };
  if (userinfo) {
    const i = userinfo.indexOf(':');
    const user = decodeURIComponent(i < 0 ? userinfo : userinfo.slice(0, i));
    if (user !== '') out.username = user;
    if (i >= 0) out.password = decodeURIComponent(userinfo.slice(i + 1));
  }
  return out;
}
