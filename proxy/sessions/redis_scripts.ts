/**
 * The Lua scripts of the Redis session store (`redis_store.ts`) and the typed client that
 * runs them: compare-and-set updates, creates that check the session limits, and terminates
 * that un-count the session.
 * @module
 */
import type { Redis } from "ioredis";

/**
 * KEYS: session key, index of all sessions, index of the identity (or the first index again).
 * ARGV: json, initTtl ms, maxSessions (0: none), maxPerIdentity (0: none), key prefix, id,
 * identity index TTL ms. Answers 0 (stored), 1 (maxSessions), 2 (maxSessionsPerIdentity).
 */
export const CREATE_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function count(idx, max)
  local n = redis.call('ZCARD', idx)
  if n < max then return n end
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', idx, '-inf', now)) do
    local k = ARGV[5] .. m
    local pttl = redis.call('PTTL', k)
    if pttl > 0 and redis.call('GETRANGE', k, 0, 0) ~= '!' then
      redis.call('ZADD', idx, now + pttl, m)
    else
      redis.call('ZREM', idx, m)
    end
  end
  return redis.call('ZCARD', idx)
end
local exists = redis.call('EXISTS', KEYS[1]) == 1 and redis.call('GETRANGE', KEYS[1], 0, 0) ~= '!'
local maxAll = tonumber(ARGV[3])
local maxId = tonumber(ARGV[4])
if not exists then
  if maxAll > 0 and count(KEYS[2], maxAll) >= maxAll then return 1 end
  if maxId > 0 and count(KEYS[3], maxId) >= maxId then return 2 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local until_ = now + tonumber(ARGV[2])
if maxAll > 0 then redis.call('ZADD', KEYS[2], until_, ARGV[6]) end
if maxId > 0 then
  redis.call('ZADD', KEYS[3], until_, ARGV[6])
  redis.call('PEXPIRE', KEYS[3], ARGV[7])
end
return 0`;

export const CAS_LUA = `
local cur = redis.call('GET', KEYS[1])
if cur == false then return -1 end
if cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;

/**
 * KEYS: session key, index of all sessions; ARGV: marker, TTL ms, index key prefix of
 * identities, id. Replaces the record by the marker and un-counts it (its identity read from it).
 */
export const TERMINATE_LUA = `
local cur = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[4])
if cur and string.sub(cur, 1, 1) == '{' then
  local ok, rec = pcall(cjson.decode, cur)
  if ok and type(rec) == 'table' and type(rec.identityKey) == 'string' then
    redis.call('ZREM', ARGV[3] .. rec.identityKey, ARGV[4])
  end
end
return 1`;

export type CasRedis = Redis & {
  vmcpSessionTerminate(
    key: string,
    all: string,
    marker: string,
    ttl: number,
    identityPrefix: string,
    id: string,
  ): Promise<number>;
  vmcpSessionCas(key: string, expected: string, next: string, ttl: number): Promise<number>;
  vmcpSessionCreate(
    key: string,
    all: string,
    identity: string,
    json: string,
    initTtl: number,
    maxAll: number,
    maxId: number,
    prefix: string,
    id: string,
    identityTtl: number,
  ): Promise<number>;
};

/** Registers the scripts as commands on `redis`. */
export function defineSessionScripts(redis: Redis): CasRedis {
  redis.defineCommand("vmcpSessionCas", { numberOfKeys: 1, lua: CAS_LUA });
  redis.defineCommand("vmcpSessionCreate", { numberOfKeys: 3, lua: CREATE_LUA });
  redis.defineCommand("vmcpSessionTerminate", { numberOfKeys: 2, lua: TERMINATE_LUA });
  return redis as CasRedis;
}
