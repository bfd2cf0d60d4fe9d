-- GCRA over Redis time: reserves n sends at a rate for the whole fleet and answers how long the
-- caller must wait before sending them. Bursts of up to one second's worth pass.
-- KEYS: theoretical-arrival-time key. ARGV: n, interval (µs per send), burst (µs).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local newTat = tat + tonumber(ARGV[1]) * tonumber(ARGV[2])
redis.call('SET', KEYS[1], string.format('%.0f', newTat), 'PX', math.ceil((newTat - now) / 1000) + 1000)
local waitUs = newTat - tonumber(ARGV[3]) - now
if waitUs < 0 then return 0 end
return math.ceil(waitUs / 1000)
