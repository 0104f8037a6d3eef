/**
 * One round trip for a request: the key's rate (a token bucket shared by every replica) and the nonce claim.
 * KEYS[1] the nonce, KEYS[2] the key's bucket (same hash slot: both carry `{accessKeyId}`).
 * ARGV[1] nonce TTL ms, ARGV[2] qps, ARGV[3] burst.
 * Returns 1 fresh (recorded), 0 seen before, or −n: throttled, a token is back in n ms (and the nonce is not
 * recorded, so the client may retry the same signed request). As the in-process limiter, a replayed request
 * spends a token: the rate is of requests presented, not of requests served.
 * Redis's own clock (TIME) is the bucket's clock, so replicas with different clocks share one bucket fairly.
 */
export const CLAIM_WITH_RATE_LUA = `
local qps = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[2], 'tokens', 'at')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
if now > at then
  tokens = math.min(burst, tokens + (now - at) * qps / 1000)
  at = now
end
if tokens < 1 then
  return -math.max(1, math.ceil((1 - tokens) * 1000 / qps))
end
redis.call('HSET', KEYS[2], 'tokens', tostring(tokens - 1), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[2], math.ceil(burst * 1000 / qps) + 1000)
if redis.call('SET', KEYS[1], '1', 'PX', ARGV[1], 'NX') then
  return 1
end
return 0
`;
