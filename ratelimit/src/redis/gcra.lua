-- credgate-ratelimit: one request's rate-limit decision under one or more limits (GCRA +
-- daily quota each), atomically, in one round trip. Either every limit allows the request
-- and each counts it, or the first limit that refuses it is reported and none counts it.
-- Same arithmetic as ratelimit/src/gcra.rs, in microseconds (exact in a Lua double for
-- Unix times in µs: < 2^53).
--
-- ARGV[1]  now (µs) or "" to use Redis TIME   ARGV[2]  extra GCRA key lifetime (ms)
-- ARGV[3]  n, the number of limits (>= 1)
-- Then, for limit i (base = 3 + 4 * (i - 1)):
--   ARGV[base + 1]  emission interval T (µs)   ARGV[base + 2]  burst (>= 1)
--   ARGV[base + 3]  daily quota, or "" for none ARGV[base + 4]  quota counter lifetime (s)
-- KEYS: for each limit in order, its GCRA state (the theoretical arrival time, TAT, µs
-- since the Unix epoch), then, only when it has a quota, today's counter.
--
-- A limit's figures: {allowed 0|1, why 0 none|1 rate|2 quota, remaining,
--                     reset_after µs, retry_after µs or -1, quota used today}
-- Reply: {1, n, figures of limit 1, …, figures of limit n} when every limit allows it;
--        {0, i, figures of limit i} when limit i is the first to refuse it.
if redis.replicate_commands then
  redis.replicate_commands() -- Redis < 5: allow writes after TIME; later: a no-op
end

local now
if ARGV[1] == '' then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000000 + tonumber(time[2])
else
  now = tonumber(ARGV[1])
end
local slack = tonumber(ARGV[2])
local n = tonumber(ARGV[3])

-- First every limit is decided without counting; the writes come only once all allow.
local writes = {}
local reply = {1, n}
local k = 1
for i = 1, n do
  local base = 3 + 4 * (i - 1)
  local t = tonumber(ARGV[base + 1])
  local burst = tonumber(ARGV[base + 2])
  local quota = tonumber(ARGV[base + 3])
  local tau = t * (burst - 1)
  local gcra_key = KEYS[k]
  k = k + 1
  local quota_key
  if quota then
    quota_key = KEYS[k]
    k = k + 1
  end

  -- A stored TAT later than now + tau + t cannot have been written by this GCRA (an
  -- allowed request stores at most now + tau + t): the clock was stepped back since, or
  -- the limit lowered. It is clamped to now + tau + t, an empty bucket one interval from
  -- its next token: neither a refusal for the length of the step nor a fresh burst. The
  -- clamp is stored at once (a refusal writes nothing else), or the next call would clamp
  -- the same far value again and the client would wait out the whole step after all.
  local tat = now
  local stored = tonumber(redis.call('GET', gcra_key))
  if stored then
    tat = math.max(stored, now)
    if tat > now + tau + t then
      tat = now + tau + t
      local clamp_ttl_ms = math.floor((tat - now) / 1000) + 1 + slack
      redis.call('SET', gcra_key, string.format('%.0f', tat), 'PX', string.format('%.0f', clamp_ttl_ms))
    end
  end

  -- Quota first, without counting: a quota refusal takes no rate token.
  local used = 0
  if quota then
    used = tonumber(redis.call('GET', quota_key) or '0')
    if used >= quota then
      local remaining = math.min(math.floor((now + tau + t - tat) / t), burst)
      return {0, i, 0, 2, remaining, tat - now, -1, used}
    end
  end

  if now < tat - tau then
    return {0, i, 0, 1, 0, tat - now, tat - tau - now, used}
  end

  local next_tat = tat + t
  writes[i] = {gcra_key, next_tat, quota_key, ARGV[base + 4]}
  local counted = used
  if quota then
    counted = used + 1
  end
  for _, v in ipairs({1, 0, math.floor((now + tau - tat) / t), next_tat - now, -1, counted}) do
    table.insert(reply, v)
  end
end

for i = 1, n do
  local w = writes[i]
  -- The state is worthless once next_tat has passed (an absent key is a full bucket).
  local ttl_ms = math.floor((w[2] - now) / 1000) + 1 + slack
  redis.call('SET', w[1], string.format('%.0f', w[2]), 'PX', string.format('%.0f', ttl_ms))
  if w[3] then
    local used = redis.call('INCR', w[3])
    if used == 1 then
      redis.call('EXPIRE', w[3], w[4])
    end
  end
end
return reply
