-- credgate-ratelimit: one rate-limit decision (GCRA + daily quota), atomically, in one
-- round trip. Same arithmetic as ratelimit/src/gcra.rs, in microseconds (exact in a
-- Lua double for Unix times in µs: < 2^53).
--
-- KEYS[1]  GCRA state: the theoretical arrival time (TAT), µs since the Unix epoch
-- KEYS[2]  (only with a quota) today's counter
-- ARGV[1]  emission interval T (µs)          ARGV[2]  burst (>= 1)
-- ARGV[3]  now (µs) or "" to use Redis TIME  ARGV[4]  daily quota, or "" for none
-- ARGV[5]  quota counter lifetime (s)        ARGV[6]  extra GCRA key lifetime (ms)
--
-- Reply: {allowed 0|1, why 0 none|1 rate|2 quota, remaining, reset_after µs,
--         retry_after µs or -1, quota used today}
if redis.replicate_commands then
  redis.replicate_commands() -- Redis < 5: allow writes after TIME; later: a no-op
end

local t = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tau = t * (burst - 1)

local now
if ARGV[3] == '' then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000000 + tonumber(time[2])
else
  now = tonumber(ARGV[3])
end

-- A stored TAT later than now + tau + t cannot have been written by this GCRA (an allowed
-- request stores at most now + tau + t): the clock was stepped back since, or the limit
-- lowered. It is clamped to now + tau + t, an empty bucket one interval from its next
-- token: neither a refusal for the length of the step nor a fresh burst. The clamp is
-- stored at once (a refusal writes nothing else), or the next call would clamp the same
-- far value again and the client would wait out the whole step after all.
local tat = now
local stored = tonumber(redis.call('GET', KEYS[1]))
if stored then
  tat = math.max(stored, now)
  if tat > now + tau + t then
    tat = now + tau + t
    local clamp_ttl_ms = math.floor((tat - now) / 1000) + 1 + tonumber(ARGV[6])
    redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', string.format('%.0f', clamp_ttl_ms))
  end
end

-- Quota first, without counting: a quota refusal takes no rate token.
local quota = tonumber(ARGV[4])
local used = 0
if quota then
  used = tonumber(redis.call('GET', KEYS[2]) or '0')
  if used >= quota then
    local remaining = math.min(math.floor((now + tau + t - tat) / t), burst)
    return {0, 2, remaining, tat - now, -1, used}
  end
end

if now < tat - tau then
  return {0, 1, 0, tat - now, tat - tau - now, used}
end

local next_tat = tat + t
-- The state is worthless once next_tat has passed (an absent key is a full bucket).
local ttl_ms = math.floor((next_tat - now) / 1000) + 1 + tonumber(ARGV[6])
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', string.format('%.0f', ttl_ms))
if quota then
  used = redis.call('INCR', KEYS[2])
  if used == 1 then
    redis.call('EXPIRE', KEYS[2], ARGV[5])
  end
end
return {1, 0, math.floor((now + tau - tat) / t), next_tat - now, -1, used}
