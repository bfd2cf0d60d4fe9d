-- Ends a fan-out once: accepted becomes the audience total; tokens never handed to a batch (a
-- cancel, or a fan-out that kept failing) end with the given outcome and reason, and stay
-- listed in the report (the audience's unexpanded tail becomes the report's tail list).
-- KEYS: record, audience, seen, report tail.
-- ARGV: total, now, tail outcome field, tail reason field ('' for none), tail reason.
-- Returns 1 when it finished the fan-out, 0 when it was already finished.
if redis.call('HGET', KEYS[1], F.fanoutDone) == '1' then return 0 end
local total = tonumber(ARGV[1])
local queued = tonumber(redis.call('HGET', KEYS[1], F.queued) or '0')
if total > queued then
  redis.call('HINCRBY', KEYS[1], ARGV[3], total - queued)
  if ARGV[4] ~= '' then redis.call('HINCRBY', KEYS[1], ARGV[4], total - queued) end
  if redis.call('EXISTS', KEYS[2]) == 1 then
    redis.call('LTRIM', KEYS[2], queued, -1)
    redis.call('RENAME', KEYS[2], KEYS[4])
    redis.call('EXPIRE', KEYS[4], math.max(1, redis.call('TTL', KEYS[1])))
    redis.call('HSET', KEYS[1], F.reportTail, ARGV[3] .. '\t' .. ARGV[5])
  end
end
redis.call('HSET', KEYS[1], F.total, total, F.accepted, total, F.fanoutDone, '1', F.phase, 'fanout')
redis.call('HSETNX', KEYS[1], F.startedAt, ARGV[2])
local finished = 0
for _, f in ipairs({F.delivered, F.rejected, F.failed, F.expired, F.cancelled}) do
  finished = finished + tonumber(redis.call('HGET', KEYS[1], f) or '0')
end
if finished >= total then redis.call('HSET', KEYS[1], F.lastOutcomeAt, ARGV[2]) end
redis.call('DEL', KEYS[2], KEYS[3])
return 1
