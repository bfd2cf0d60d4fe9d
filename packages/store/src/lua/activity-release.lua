-- A worker found an app's queue empty: the app leaves "now", unless work was marked since the
-- worker read its version (compare-and-set), and its delayed work (if any) is due at ARGV[3].
-- KEYS: now zset, later zset. ARGV: app, version seen, next due (ms) or ''. Returns 1 released.
if redis.call('ZSCORE', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[3] ~= '' then redis.call('ZADD', KEYS[2], 'LT', ARGV[3], ARGV[1]) end
return 1
