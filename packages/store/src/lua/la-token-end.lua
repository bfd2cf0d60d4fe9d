-- Ends an activity's record: the record, its token's pointer and its user-index entry.
-- Compare-and-set on the token, user and update time the caller read (and judged).
-- KEYS: activity hash, its token's pointer, its user's set (the activity hash when no user).
-- ARGV: activity id, expected token, expected user ('' = none), expected updatedAt.
-- Returns -1 when there is no record, 0 when it changed since it was read, 1 when ended.
local token = redis.call('HGET', KEYS[1], 'token')
if not token then return -1 end
local user = redis.call('HGET', KEYS[1], 'userId') or ''
local updated = redis.call('HGET', KEYS[1], 'updatedAt') or ''
if token ~= ARGV[2] or user ~= ARGV[3] or updated ~= ARGV[4] then return 0 end
redis.call('DEL', KEYS[1])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
if ARGV[3] ~= '' then redis.call('SREM', KEYS[3], ARGV[1]) end
return 1
