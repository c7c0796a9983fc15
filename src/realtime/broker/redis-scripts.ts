/**
 * The Lua scripts of the Redis broker. Each runs atomically inside Redis, so
 * offsets are assigned, stored and fanned out in one step, and every process
 * sees a channel's publications in offset order.
 *
 * Keys of one channel share the hash tag `{<channel>}`, so they live in one
 * slot of a Redis Cluster together with the channel's shard channel (used with
 * SPUBLISH / SSUBSCRIBE).
 *
 * A publication's data and info are opaque bytes here: the scripts store,
 * measure and forward them, and never decode them.
 *
 * Stream entry ids are `<offset>-1`, so XRANGE can start right after an offset.
 * Each entry has the fields e (the encoding: 'j' JSON text, 'm' MessagePack),
 * d (the data's bytes), i (the publisher info's bytes, in the same encoding,
 * or '' without one) and t (Redis time in ms, for TTL retention).
 *
 * Reads create nothing: a channel has a meta hash (offset, epoch, ttl) only
 * once it was published to, and the read scripts answer offset 0 and epoch
 * '' without one.
 *
 * A publication on the shard channel is framed for binary data:
 *
 *     p <offset> <epoch> <encoding> <info bytes>\n<info><data>
 *
 * (the header is ASCII: epochs are base64url). Joins and leaves are JSON
 * (`{"t":"j"|"l","m":<member>}`): presence members are small and made by the server.
 */

/**
 * Lua: drops the entries at the head of `stream` stamped at or before
 * `now - ttl`, reading one entry first (the usual case: nothing expired)
 * and then more, at most 64 per call.
 */
const TRIM_EXPIRED = `
local function trimExpired(stream, now, ttl)
  local last, batch, looked = nil, 1, 0
  local cursor = '-'
  while looked < 64 do
    local head = redis.call('XRANGE', stream, cursor, '+', 'COUNT', batch)
    local stop = #head < batch
    for _, entry in ipairs(head) do
      local fields, stamp = entry[2], nil
      for k = 1, #fields, 2 do
        if fields[k] == 't' then stamp = tonumber(fields[k + 1]) end
      end
      if stamp ~= nil and stamp <= now - ttl then last = entry[1] else stop = true break end
    end
    looked = looked + #head
    if stop or last == nil then break end
    cursor = '(' .. last
    batch = batch * 4
  end
  if last ~= nil then
    local cut = tonumber(string.match(last, '^(%d+)-'))
    redis.call('XTRIM', stream, 'MINID', (cut + 1) .. '-0')
  end
end
`;

/**
 * KEYS: meta, stream. ARGV: shard channel, encoding ('j' | 'm'), data bytes,
 * info bytes or '', epoch candidate, history size, history ttl ms, meta ttl
 * ms. Creates the stream's meta (and epoch) on the first publication; a
 * publication without history (size 0) leaves nothing kept. Returns {offset, epoch}.
 *
 * The meta also names the Redis process (its `run_id`) that last wrote it.
 * Replication is asynchronous: a replica promoted by a failover (or a Redis
 * restarted from its last save) may lack the latest publications, which
 * subscribers already received. Its meta then still names the old process,
 * so the first publication on the new one starts a new stream (a fresh
 * epoch, offset 1) instead of handing out again offsets that subscribers
 * saw with other data. Until then, reads answer the position the new master
 * holds: a client that saw more is told its history is incomplete
 * (`since` beyond the stream), never a silent gap.
 */
export const PUBLISH_SCRIPT = `${TRIM_EXPIRED}
local meta, stream = KEYS[1], KEYS[2]
local shard, encoding, data, info, fresh = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local size, ttl, metaTtl = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local server = redis.call('INFO', 'server')
local at = string.find(server, 'run_id:', 1, true)
local node = string.sub(server, at + 7, at + 46)
local known = redis.call('HMGET', meta, 'epoch', 'node')
if not known[1] or (known[2] and known[2] ~= node) then
  -- A new stream: the first publication, or the first on another Redis process than the last one
  -- (a failover or restart that may have lost acknowledged writes): never continue its offsets under the old epoch.
  redis.call('DEL', meta, stream)
  redis.call('HSET', meta, 'epoch', fresh, 'node', node)
elseif not known[2] then
  redis.call('HSET', meta, 'node', node)
end
local offset = redis.call('HINCRBY', meta, 'offset', 1)
local epoch = redis.call('HGET', meta, 'epoch')
redis.call('HSET', meta, 'ttl', ttl)
redis.call('PEXPIRE', meta, metaTtl)
if size > 0 then
  redis.call('XADD', stream, 'MAXLEN', size, offset .. '-1', 'e', encoding, 'd', data, 'i', info, 't', now)
  if ttl > 0 then
    trimExpired(stream, now, ttl)
    redis.call('PEXPIRE', stream, ttl)
  else
    redis.call('PEXPIRE', stream, metaTtl)
  end
else
  redis.call('DEL', stream)
end
redis.call('SPUBLISH', shard, 'p ' .. offset .. ' ' .. epoch .. ' ' .. encoding .. ' ' .. #info .. '\\n' .. info .. data)
return {offset, epoch}
`;

/**
 * KEYS: meta, stream. ARGV: since offset (-1: the latest), since epoch,
 * limit (-1: no limit), max bytes (-1: no bound).
 *
 * Without since, the page starts at the oldest of the latest `limit` kept
 * publications; with since, right after it — and only when since is in the
 * channel's stream (its epoch, or offset 0 with epoch '': `continuesStream`).
 * From there it takes kept, unexpired publications, oldest first, until
 * `limit` is reached or the next one would take the sum of data and info
 * bytes over max bytes (the first is always taken). It reads the stream in
 * small, growing batches, so it never holds much more than the page.
 *
 * Returns {offset, epoch, truncated (1 when kept publications follow the
 * last one taken), {offset, encoding, info, data, ...}}; a channel that was
 * never published to: {0, '', 0, {}}. Writes nothing.
 */
export const HISTORY_SCRIPT = `
local meta, stream = KEYS[1], KEYS[2]
local sinceOffset, sinceEpoch = tonumber(ARGV[1]), ARGV[2]
local limit, maxBytes = tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', meta, 'offset', 'epoch', 'ttl')
local epoch = state[2]
if not epoch then return {0, '', 0, {}} end
local offset = tonumber(state[1] or '0')
local ttl = tonumber(state[3] or '0')
local start
if sinceOffset >= 0 then
  if sinceEpoch ~= epoch and not (sinceOffset == 0 and sinceEpoch == '') then return {offset, epoch, 0, {}} end
  start = sinceOffset + 1
elseif limit >= 0 then
  start = math.max(offset - limit + 1, 0)
else
  start = 0
end
local oldest = nil
if ttl > 0 then
  local clock = redis.call('TIME')
  oldest = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) - ttl
end
local page, taken, bytes, truncated = {}, 0, 0, 0
local batch, cursor, done = 4, start .. '-0', false
while not done do
  if limit >= 0 then batch = math.min(batch, limit - taken + 1) end
  local entries = redis.call('XRANGE', stream, cursor, '+', 'COUNT', batch)
  for _, entry in ipairs(entries) do
    local fields = entry[2]
    local encoding, data, info, stamp = 'j', '', '', nil
    for k = 1, #fields, 2 do
      local name = fields[k]
      if name == 'd' then data = fields[k + 1]
      elseif name == 'i' then info = fields[k + 1]
      elseif name == 'e' then encoding = fields[k + 1]
      elseif name == 't' then stamp = tonumber(fields[k + 1]) end
    end
    if oldest == nil or stamp == nil or stamp > oldest then
      local cost = #data + #info
      if (limit >= 0 and taken >= limit) or (maxBytes >= 0 and taken > 0 and bytes + cost > maxBytes) then
        truncated = 1
        done = true
        break
      end
      taken = taken + 1
      bytes = bytes + cost
      page[#page + 1] = tonumber(string.match(entry[1], '^(%d+)-'))
      page[#page + 1] = encoding
      page[#page + 1] = info
      page[#page + 1] = data
    end
    cursor = '(' .. entry[1]
  end
  if #entries < batch then done = true end
  batch = math.min(batch * 2, 256)
end
return {offset, epoch, truncated, page}
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
 * members (publishing a leave for each) and returns the members left, as
 * JSON. On a channel without members it reads and writes nothing.
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
