-- Pauses one app × environment unless it already is: a second worker hitting the same refused
-- credentials joins the running pause instead of extending it.
-- KEYS: pauses hash. ARGV: app/environment field, reason, now (ms), resume at (ms).
-- Returns the time sending resumes.
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if raw then
  local existing = cjson.decode(raw)
  if tonumber(existing.resumeAt) > tonumber(ARGV[3]) then return existing.resumeAt end
end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode({ reason = ARGV[2], since = tonumber(ARGV[3]), resumeAt = tonumber(ARGV[4]) }))
return tonumber(ARGV[4])
