-- Where a batch stands before its job sends anything.
-- KEYS: record, batches. ARGV: batch field.
-- Returns {record exists, cancelled, saved state or false}.
return {
  redis.call('EXISTS', KEYS[1]),
  redis.call('HEXISTS', KEYS[1], F.cancelledAt),
  redis.call('HGET', KEYS[2], ARGV[1]),
}
