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
 * The meta also names who last wrote it: `node` is the Redis process's
 * `run_id` and its replication id (`master_replid`, which a master gets anew
 * on each promotion), `cid` its cluster node id (on a Redis Cluster).
 * Replication is asynchronous: a replica promoted by a failover, a master
 * restarted from its last save, or a former master that resynchronised from
 * its successor may lack publications that subscribers already received. Its
 * meta then names another writer, so the first publication there gets a
 * fresh epoch: a client that saw publications which are gone (or any client
 * that recovers across the change) is told its history is incomplete,
 * instead of being handed offsets it saw with other data under the same
 * epoch. The offsets go on from the surviving one (no reset to 1), so a
 * subscriber that resubscribed at the surviving offset before the change
 * takes the next publication as the next one. Until the change, reads answer
 * the position it holds: a client that saw more is told its history is
 * incomplete (`since` beyond the stream), never a silent gap.
 *
 * One change of writer loses nothing and keeps the epoch: a slot migrated to
 * another cluster node (MIGRATE moves the keys whole). It is told apart by a
 * writer with another cluster node id whose replication id is neither this
 * master's nor the one it was promoted from (`master_replid2`).
 */
export const PUBLISH_SCRIPT = `${TRIM_EXPIRED}
local function infoField(text, name, length)
  local at = string.find(text, name .. ':', 1, true)
  if not at then return '' end
  local from = at + #name + 1
  return string.sub(text, from, from + length - 1)
end
local meta, stream = KEYS[1], KEYS[2]
local shard, encoding, data, info, fresh = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local size, ttl, metaTtl = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local replication = redis.call('INFO', 'replication')
local replid = infoField(replication, 'master_replid', 40)
local node = infoField(redis.call('INFO', 'server'), 'run_id', 40) .. '/' .. replid
local known = redis.call('HMGET', meta, 'epoch', 'node', 'cid')
local fence = not known[1]
if known[1] and known[2] and known[2] ~= node then
  -- Another writer: a stream is continued only when its slot was migrated here whole.
  fence = true
  local cid = redis.pcall('CLUSTER', 'MYID')
  local writerReplid = string.sub(known[2], 42)
  if type(cid) == 'string' and known[3] and known[3] ~= cid and writerReplid ~= replid
    and writerReplid ~= infoField(replication, 'master_replid2', 40) then
    fence = false
  end
end
if not known[1] then
  redis.call('DEL', meta, stream)
  redis.call('HSET', meta, 'epoch', fresh)
elseif fence then
  -- A new epoch, but the numbering (and what is kept) goes on: a subscriber still at the surviving
  -- offset takes the next publication as the next one, never as one it already has.
  redis.call('HSET', meta, 'epoch', fresh)
end
if known[2] ~= node then
  local cid = redis.pcall('CLUSTER', 'MYID')
  redis.call('HSET', meta, 'node', node, 'cid', type(cid) == 'string' and cid or '')
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
