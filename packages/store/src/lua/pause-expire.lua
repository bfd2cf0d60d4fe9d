-- Drops pauses that are over. Atomic, so a pause set again meanwhile (a later resumeAt) stays.
-- KEYS: pauses hash. ARGV: now (ms). Returns the fields dropped.
local dropped = {}
local flat = redis.call('HGETALL', KEYS[1])
for i = 1, #flat, 2 do
  if tonumber(cjson.decode(flat[i + 1]).resumeAt) <= tonumber(ARGV[1]) then
    redis.call('HDEL', KEYS[1], flat[i])
    table.insert(dropped, flat[i])
  end
end
return dropped
