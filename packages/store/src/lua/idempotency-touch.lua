-- Extends the lease of a pending claim held by `id` (a long upload keeps its key).
-- KEYS: entry. ARGV: id, now (ms), lease (ms), pending ttl (s). Returns 1 when extended.
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local entry = cjson.decode(raw)
if entry.status or entry.id ~= ARGV[1] then return 0 end
entry.leaseUntil = tonumber(ARGV[2]) + tonumber(ARGV[3])
redis.call('SET', KEYS[1], cjson.encode(entry), 'EX', ARGV[4])
return 1
