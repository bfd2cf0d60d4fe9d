-- Moves a fan-out's cursor forward with the batches it just added (same transaction): accepted
-- and queued rise to `offset` (never fall: a replayed page cannot count twice), and the record,
-- its audience and its batches live on while a slow, paced fan-out runs.
-- KEYS: record, audience, batches. ARGV: offset, now, retention (s).
local offset = tonumber(ARGV[1])
if offset > tonumber(redis.call('HGET', KEYS[1], F.queued) or '0') then
  redis.call('HSET', KEYS[1], F.queued, offset, F.accepted, offset)
end
redis.call('HSETNX', KEYS[1], F.startedAt, ARGV[2])
local retention = tonumber(ARGV[3])
for _, key in ipairs(KEYS) do
  if redis.call('TTL', key) > -2 and redis.call('TTL', key) < retention then
    redis.call('EXPIRE', key, retention)
  end
end
return 1
