-- Appends audience tokens not seen before (registry audiences overlap: a device with two tags),
-- up to a cap. KEYS: audience, seen. ARGV: ttl (s), cap, token…
-- Returns the audience length, or -1 when the cap would be passed (nothing more is added).
local cap = tonumber(ARGV[2])
local length = redis.call('LLEN', KEYS[1])
for i = 3, #ARGV do
  if redis.call('SADD', KEYS[2], ARGV[i]) == 1 then
    if length >= cap then return -1 end
    redis.call('RPUSH', KEYS[1], ARGV[i])
    length = length + 1
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return length
