-- Frees a key whose request failed, only while it is still the pending claim of `id`: if the
-- commit did happen (its reply lost), the stored answer stays and a retry replays it.
-- KEYS: entry. ARGV: id. Returns 1 when freed.
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local entry = cjson.decode(raw)
if entry.status or entry.id ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
