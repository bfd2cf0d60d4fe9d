-- Deletes a string key only while it still holds the value the caller saw (a stale pointer).
-- KEYS: the key. ARGV: the value. Returns 1 when deleted, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
