-- Marks a record cancelled unless every token already has an outcome. Batches not yet sent end
-- `cancelled` when their job runs; the fan-out stops expanding.
-- KEYS: record. ARGV: now.
-- Returns 0 not found, 1 cancelled, 2 already cancelled, 3 finished.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HEXISTS', KEYS[1], F.cancelledAt) == 1 then return 2 end
local finished = 0
for _, f in ipairs({F.delivered, F.rejected, F.failed, F.expired, F.cancelled}) do
  finished = finished + tonumber(redis.call('HGET', KEYS[1], f) or '0')
end
local accepted = tonumber(redis.call('HGET', KEYS[1], F.accepted) or '0')
if redis.call('HGET', KEYS[1], F.fanoutDone) ~= '0' and finished >= accepted then return 3 end
redis.call('HSET', KEYS[1], F.cancelledAt, ARGV[1])
return 1
