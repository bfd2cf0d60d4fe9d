-- Removes a push-to-start token and its user-index entry: compare-and-set on the record the
-- caller read (and judged, e.g. registered before APNs' 410 timestamp).
-- KEYS: the type's token hash, the user's set (the token hash itself when there is no user).
-- ARGV: token, the record the caller read, user id ('' = none).
-- Returns -1 when there is no record, 0 when it changed since it was read, 1 when removed.
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return -1 end
if current ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
if ARGV[3] ~= '' then redis.call('SREM', KEYS[2], ARGV[1]) end
return 1
