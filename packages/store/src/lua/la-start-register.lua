-- Registers a push-to-start token under its attributes type, or moves it to another user:
-- compare-and-set on the record the caller read, so the user index never points elsewhere.
-- KEYS: the type's token hash, the new user's set, the old user's set (either set is the token
-- hash itself when there is no user).
-- ARGV: token, the record the caller read ('' = none), the new record (JSON), new user id,
-- old user id ('' = none).
-- Returns 0 when the record changed since it was read (read again and retry), 1 when done.
local current = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if current ~= ARGV[2] then return 0 end
if ARGV[5] ~= '' and ARGV[5] ~= ARGV[4] then redis.call('SREM', KEYS[3], ARGV[1]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
if ARGV[4] ~= '' then redis.call('SADD', KEYS[2], ARGV[1]) end
return 1
