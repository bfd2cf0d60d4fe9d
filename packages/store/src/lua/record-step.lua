-- Records one step of a batch, exactly once: its outcome counters, its report entries, its
-- feedback events and the batch's new state, all or nothing. The step applies only if the
-- batch's state is still exactly the version the step builds on (compare-and-set), so a step
-- sent twice, or by a run another run has taken the batch from, counts once or not at all.
--
-- KEYS: record, batches, report, feedback stream
-- ARGV: batch field, expected state ('' for none), new state, now (ms), retention (s), app,
--       environment, counter pair count, (field, increment)…, report entry count, entry…,
--       (token, reason, timestamp)… of dead tokens
-- Returns {code, cancelled, current state}: code 1 applied, 2 this very state was already
-- written (a command sent twice), 0 the batch moved on (current state returned), -1 no record.
local current = redis.call('HGET', KEYS[2], ARGV[1])
local cancelled = redis.call('HEXISTS', KEYS[1], F.cancelledAt)
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, cancelled, current} end
if (current or '') ~= ARGV[2] then
  if current == ARGV[3] then return {2, cancelled, false} end
  return {0, cancelled, current}
end

local i = 9
for _ = 1, tonumber(ARGV[8]) do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
  i = i + 2
end
local entries = tonumber(ARGV[i])
i = i + 1
for _ = 1, entries do
  redis.call('RPUSH', KEYS[3], ARGV[i])
  i = i + 1
end
local dead = 0
while i <= #ARGV do
  redis.call('XADD', KEYS[4], '*', 'app', ARGV[6], 'environment', ARGV[7], 'token', ARGV[i],
    'reason', ARGV[i + 1], 'timestamp', ARGV[i + 2])
  dead = dead + 1
  i = i + 3
end
if dead > 0 then redis.call('HINCRBY', KEYS[1], F.invalidated, dead) end
redis.call('HSET', KEYS[1], F.lastOutcomeAt, ARGV[4])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])

-- Everything about a record lives at least `retention` past its last outcome.
local retention = tonumber(ARGV[5])
if redis.call('TTL', KEYS[1]) < retention then redis.call('EXPIRE', KEYS[1], retention) end
local ttl = redis.call('TTL', KEYS[1])
redis.call('EXPIRE', KEYS[2], ttl)
if entries > 0 then redis.call('EXPIRE', KEYS[3], ttl) end
return {1, cancelled, false}
