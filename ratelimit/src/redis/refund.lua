-- credgate-ratelimit: gives back what an allowed decision of gcra.lua took (another
-- limit of the same request refused it): one emission interval off the TAT, one off the
-- day's count. Atomic; the keys' lifetimes are kept.
--
-- KEYS[1]  GCRA state (TAT, µs)      KEYS[2]  (only with a quota) today's counter
-- ARGV[1]  emission interval T (µs)
--
-- Reply: 1
local stored = tonumber(redis.call('GET', KEYS[1]))
if stored then
  local ttl_ms = redis.call('PTTL', KEYS[1])
  if ttl_ms > 0 then
    local tat = stored - tonumber(ARGV[1])
    redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', ttl_ms)
  end
end
if KEYS[2] then
  local used = tonumber(redis.call('GET', KEYS[2]) or '0')
  if used > 0 then
    redis.call('DECR', KEYS[2])
  end
end
return 1
