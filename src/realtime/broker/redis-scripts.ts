/**
 * The Lua scripts of the Redis broker. Each runs atomically inside Redis, so
 * offsets are assigned, stored and fanned out in one step, and every process
 * sees a channel's publications in offset order.
 *
 * Keys of one channel share the hash tag `{<channel>}`, so they live in one
 * slot of a Redis Cluster together with the channel's shard channel (used with
 * SPUBLISH / SSUBSCRIBE).
 *
 * Stream entry ids are `<offset>-1`, so XRANGE can start right after an offset.
 * Each entry has the fields d (data, JSON), i (publisher info, JSON or '') and
 * t (Redis time in ms, for TTL retention).
 */

/** A new epoch starts with an empty stream (entries left from an earlier epoch are deleted). */

/** KEYS: meta, stream. ARGV: shard channel, data JSON, info JSON or '', epoch candidate, history size, history ttl ms, meta ttl ms. Returns {offset, epoch}. */
export const PUBLISH_SCRIPT = `
local meta, stream = KEYS[1], KEYS[2]
local shard, data, info, fresh = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local size, ttl, metaTtl = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
if redis.call('HSETNX', meta, 'epoch', fresh) == 1 then redis.call('DEL', stream) end
local offset = redis.call('HINCRBY', meta, 'offset', 1)
local epoch = redis.call('HGET', meta, 'epoch')
redis.call('HSET', meta, 'ttl', ttl)
redis.call('PEXPIRE', meta, metaTtl)
if size > 0 then
  redis.call('XADD', stream, 'MAXLEN', size, offset .. '-1', 'd', data, 'i', info, 't', now)
  if ttl > 0 then
    local head = redis.call('XRANGE', stream, '-', '+', 'COUNT', 32)
    local last = nil
    for _, entry in ipairs(head) do
      local fields, stamp = entry[2], nil
      for k = 1, #fields, 2 do
        if fields[k] == 't' then stamp = tonumber(fields[k + 1]) end
      end
      if stamp ~= nil and stamp <= now - ttl then last = entry[1] else break end
    end
    if last ~= nil then
      local cut = tonumber(string.match(last, '^(%d+)-'))
      redis.call('XTRIM', stream, 'MINID', (cut + 1) .. '-0')
    end
    redis.call('PEXPIRE', stream, ttl)
  else
    redis.call('PEXPIRE', stream, metaTtl)
  end
end
local message = '{"t":"p","o":' .. offset .. ',"e":' .. cjson.encode(epoch) .. ',"d":' .. data
if info ~= '' then message = message .. ',"i":' .. info end
redis.call('SPUBLISH', shard, message .. '}')
return {offset, epoch}
`;

/**
 * KEYS: meta, stream. ARGV: since offset (-1: the latest), limit (-1: all),
 * epoch candidate, meta ttl ms. The history TTL is the one the last publish set. Returns {offset, epoch, entries}
 * where entries are {id, fields} as XRANGE gives them, oldest first, without
 * expired ones.
 */
export const HISTORY_SCRIPT = `
local meta, stream = KEYS[1], KEYS[2]
local since, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local fresh, metaTtl = ARGV[3], tonumber(ARGV[4])
if redis.call('HSETNX', meta, 'epoch', fresh) == 1 then
  redis.call('PEXPIRE', meta, metaTtl)
  redis.call('DEL', stream)
end
local offset = tonumber(redis.call('HGET', meta, 'offset') or '0')
local epoch = redis.call('HGET', meta, 'epoch')
local ttl = tonumber(redis.call('HGET', meta, 'ttl') or '0')
local entries = {}
if limit ~= 0 then
  if since >= 0 then
    if limit > 0 then
      entries = redis.call('XRANGE', stream, (since + 1) .. '-0', '+', 'COUNT', limit)
    else
      entries = redis.call('XRANGE', stream, (since + 1) .. '-0', '+')
    end
  else
    local newest
    if limit > 0 then
      newest = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', limit)
    else
      newest = redis.call('XREVRANGE', stream, '+', '-')
    end
    for k = #newest, 1, -1 do entries[#entries + 1] = newest[k] end
  end
end
if ttl > 0 and #entries > 0 then
  local clock = redis.call('TIME')
  local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
  local kept = {}
  for _, entry in ipairs(entries) do
    local fields, stamp = entry[2], nil
    for k = 1, #fields, 2 do
      if fields[k] == 't' then stamp = tonumber(fields[k + 1]) end
    end
    if stamp == nil or stamp > now - ttl then kept[#kept + 1] = entry end
  end
  entries = kept
end
return {offset, epoch, entries}
`;

/** KEYS: members hash, expiry zset. ARGV: shard channel, client id, member JSON, ttl ms. Publishes a join when the member is new. */
export const ADD_PRESENCE_SCRIPT = `
local members, expiry = KEYS[1], KEYS[2]
local shard, client, member, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local added = redis.call('HSET', members, client, member)
redis.call('ZADD', expiry, now + ttl, client)
-- The keys outlive their members long enough for a sweep to publish their leaves.
redis.call('PEXPIRE', members, ttl + 60000)
redis.call('PEXPIRE', expiry, ttl + 60000)
if added == 1 then redis.call('SPUBLISH', shard, '{"t":"j","m":' .. member .. '}') end
return added
`;

/** KEYS: members hash, expiry zset. ARGV: shard channel, client id. Publishes a leave when the member was there. */
export const REMOVE_PRESENCE_SCRIPT = `
local members, expiry = KEYS[1], KEYS[2]
local shard, client = ARGV[1], ARGV[2]
local member = redis.call('HGET', members, client)
if not member then return 0 end
redis.call('HDEL', members, client)
redis.call('ZREM', expiry, client)
redis.call('SPUBLISH', shard, '{"t":"l","m":' .. member .. '}')
return 1
`;

/**
 * KEYS: members hash, expiry zset. ARGV: shard channel. Removes expired
 * members (publishing a leave for each) and returns the members left, as JSON.
 */
export const PRESENCE_SCRIPT = `
local members, expiry = KEYS[1], KEYS[2]
local shard = ARGV[1]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', expiry, '-inf', now)
for _, client in ipairs(expired) do
  local member = redis.call('HGET', members, client)
  redis.call('HDEL', members, client)
  redis.call('ZREM', expiry, client)
  if member then redis.call('SPUBLISH', shard, '{"t":"l","m":' .. member .. '}') end
end
return redis.call('HVALS', members)
`;
