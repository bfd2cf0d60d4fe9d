-- Registers a running activity's update token, or rotates it: an activity has one current
-- token, and the old token's pointer goes with the rotation. Compare-and-set on the token, user
-- and update time the caller read. The record and the pointers live `ttl` seconds after the last
-- registration (an activity runs for at most 8 hours and stays visible 4 more).
-- KEYS: activity hash, new token's pointer, old token's pointer, new user's set, old user's set
-- (a pointer or set that does not apply is the activity hash itself).
-- ARGV: activity id, expected token ('' = none), expected user, expected updatedAt, token,
-- user id, attributes type, now (ms), ttl (s).
-- Returns 0 when the activity changed since it was read (read again and retry), 1 when done.
local token = redis.call('HGET', KEYS[1], 'token') or ''
local user = redis.call('HGET', KEYS[1], 'userId') or ''
local updated = redis.call('HGET', KEYS[1], 'updatedAt') or ''
if token ~= ARGV[2] or user ~= ARGV[3] or updated ~= ARGV[4] then return 0 end
if token ~= '' and token ~= ARGV[5] and redis.call('GET', KEYS[3]) == ARGV[1] then
  redis.call('DEL', KEYS[3])
end
if user ~= '' and user ~= ARGV[6] then redis.call('SREM', KEYS[5], ARGV[1]) end
redis.call('HSETNX', KEYS[1], 'registeredAt', ARGV[8])
redis.call('HSET', KEYS[1], 'token', ARGV[5], 'userId', ARGV[6], 'attributesType', ARGV[7], 'updatedAt', ARGV[8])
redis.call('EXPIRE', KEYS[1], ARGV[9])
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[9])
if ARGV[6] ~= '' then
  redis.call('SADD', KEYS[4], ARGV[1])
  redis.call('EXPIRE', KEYS[4], ARGV[9])
end
return 1
