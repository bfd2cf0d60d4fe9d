-- Apps whose delayed work is due now move from "later" to "now".
-- KEYS: now zset, later zset. ARGV: now (ms), channel. Returns the apps moved.
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 1000)
for _, app in ipairs(due) do
  redis.call('ZREM', KEYS[2], app)
  if tonumber(redis.call('ZINCRBY', KEYS[1], 1, app)) == 1 then redis.call('PUBLISH', ARGV[2], app) end
end
return due
