-- Adds a channel under the producer's name unless the name is taken; the id → name index of
-- its environment follows in the same step.
-- KEYS: the app's name → record hash, the environment's id → name hash.
-- ARGV: name, record (JSON), channel id.
-- Returns '' when added, else the record already under that name.
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then return existing end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[1])
return ''
