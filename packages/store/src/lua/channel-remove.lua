-- Removes a channel by name and its id → name entry: compare-and-set on the record the caller
-- read (which names the environment, hence the index hash).
-- KEYS: the app's name → record hash, the id → name hash of the record's environment.
-- ARGV: name, the record the caller read (JSON), its channel id.
-- Returns -1 when there is no record, 0 when it changed since it was read, 1 when removed.
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return -1 end
if current ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HGET', KEYS[2], ARGV[3]) == ARGV[1] then redis.call('HDEL', KEYS[2], ARGV[3]) end
return 1
