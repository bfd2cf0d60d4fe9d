-- Where a batch stands before its job sends anything, claimed for one run: the run id goes into
-- the batch's state, so a step of any earlier run of the same batch no longer applies (its
-- compare-and-set fails). A peek (no run) claims nothing.
-- KEYS: record, batches. ARGV: batch field, run id ('' to peek).
-- Returns {record exists, cancelled, state (the exact version) or false}.
local exists = redis.call('EXISTS', KEYS[1])
local cancelled = redis.call('HEXISTS', KEYS[1], F.cancelledAt)
local state = redis.call('HGET', KEYS[2], ARGV[1])
if exists == 1 and ARGV[2] ~= '' and state ~= BATCH_DONE then
  local checkpoint = { next = 0, retry = {}, retryReason = '' }
  if state then checkpoint = cjson.decode(state) end
  checkpoint.run = ARGV[2]
  state = cjson.encode(checkpoint)
  redis.call('HSET', KEYS[2], ARGV[1], state)
  redis.call('EXPIRE', KEYS[2], math.max(1, redis.call('TTL', KEYS[1])))
end
return {exists, cancelled, state}
