-- One change of the app registry, all or nothing: compare-and-set of the app's record, its
-- sealed credentials, the registry version (INCR) and the change message on the channel, so
-- processes see changes in version order and a missed message shows as a version gap.
-- KEYS: apps hash, secrets hash, version counter.
-- ARGV: channel, app id, the record expected now ('' = none), the new record ('' = delete),
--       'new' (the record gets revision = the new version; it is JSON without `revision`) or
--       'keep' (stored as given), 'set' or 'keep' for the sealed credentials, the sealed credentials.
-- Returns the new version, or -1 when the record changed since it was read (the caller retries).
local current = redis.call('HGET', KEYS[1], ARGV[2])
if not current then current = '' end
if current ~= ARGV[3] then return -1 end
local version = redis.call('INCR', KEYS[3])
if ARGV[4] == '' then
  redis.call('HDEL', KEYS[1], ARGV[2])
  redis.call('HDEL', KEYS[2], ARGV[2])
else
  local record = ARGV[4]
  if ARGV[5] == 'new' then
    record = '{"revision":"' .. tostring(version) .. '",' .. string.sub(record, 2)
  end
  redis.call('HSET', KEYS[1], ARGV[2], record)
  if ARGV[6] == 'set' then redis.call('HSET', KEYS[2], ARGV[2], ARGV[7]) end
end
redis.call('PUBLISH', ARGV[1], '{"version":' .. tostring(version) .. ',"ids":[' .. cjson.encode(ARGV[2]) .. ']}')
return version
