-- An app has work: now (it has jobs ready), or at a later time (delayed jobs only).
-- KEYS: apps with work now (zset: a version per app), apps with work later (zset: due ms).
-- ARGV: app, due (ms), now (ms), channel.
-- Work now bumps the app's version (so a worker releasing the app after finding its queue empty
-- fails its compare-and-set) and, if the app was idle, tells workers on the channel at once.
if tonumber(ARGV[2]) > tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[2], 'LT', ARGV[2], ARGV[1])
  return 0
end
local version = redis.call('ZINCRBY', KEYS[1], 1, ARGV[1])
if tonumber(version) == 1 then redis.call('PUBLISH', ARGV[4], ARGV[1]) end
return 1
