-- Claims an Idempotency-Key, or says what became of its earlier use.
-- KEYS: entry. ARGV: fingerprint, new id, now (ms), lease (ms), pending ttl (s).
-- Returns {'new', id} | {'replay', entry JSON} | {'in-progress'} | {'mismatch'}.
-- A pending entry whose lease ran out belongs to a request that died or answered 503 before
-- its commit (the commit turns the entry into an answer in the same transaction), so nothing was
-- accepted under it: the key is claimed again, under a fresh id.
local raw = redis.call('GET', KEYS[1])
if raw then
  local entry = cjson.decode(raw)
  if entry.fingerprint ~= ARGV[1] then return {'mismatch'} end
  if entry.status then return {'replay', raw} end
  if tonumber(entry.leaseUntil) > tonumber(ARGV[3]) then return {'in-progress'} end
end
local entry = cjson.encode({ fingerprint = ARGV[1], id = ARGV[2], leaseUntil = tonumber(ARGV[3]) + tonumber(ARGV[4]) })
redis.call('SET', KEYS[1], entry, 'EX', ARGV[5])
return {'new', ARGV[2]}
