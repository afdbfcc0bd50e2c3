-- Sluice rate limiter: one call checks every rule of a request atomically (two-phase: all
-- rules are evaluated, and state is written only if all passed). Mirrors algorithm.ts and
-- the four algorithm files line by line; change both together.
-- One call may carry several requests with the same keys (the gateway coalesces concurrent
-- requests of one client): they are checked one after the other, each seeing the state the
-- previous one wrote, exactly as separate calls in that order would.
--
-- KEYS: per rule i, KEYS[2i-1] = state hash, KEYS[2i] = block key.
-- ARGV[1] = "1" for a dry run (admin inspect: nothing is written).
-- ARGV[2] = "" to use the server clock (TIME), or a clock in ms (tests only).
-- ARGV[3] = how many requests this call checks (at least 1).
-- ARGV[4..]: per rule, 6 values: algorithm code, limit, burst, period ms, cost, block ms.
-- Returns per request, per rule, 5 integers: allowed (1/0), remaining, reset ms (the
-- draft's t: until more quota; a refusal's retry), retry-after ms, blocked (1/0).

local function num(x)
  -- %.17g round-trips every double; tostring's %.14g would drift the token bucket.
  return string.format('%.17g', x)
end

local function fixed_window(state, now, limit, burst, period, cost)
  local s = redis.call('HMGET', state, 'window', 'count')
  local window = math.floor(now / period)
  local count = 0
  if tonumber(s[1]) == window then count = tonumber(s[2]) or 0 end
  local reset = (window + 1) * period - now
  if count + cost <= limit then
    return true, limit - count - cost, reset, 0, { 'window', num(window), 'count', num(count + cost) }, reset
  end
  return false, limit - count, reset, reset
end

-- ms until the sliding estimate leaves room for `units` more (waitFor in sliding-window.ts).
local function sliding_wait(units, count, previous, elapsed, limit, period)
  if count + units <= limit then
    if previous <= 0 then return 0 end
    return math.max(0, period - ((limit - count - units) * period) / previous - elapsed)
  end
  local into = 0
  if count > 0 then into = period - ((limit - units) * period) / count end
  return period - elapsed + math.max(0, into)
end

local function sliding_window(state, now, limit, burst, period, cost)
  local s = redis.call('HMGET', state, 'window', 'count', 'previous')
  local window = math.floor(now / period)
  local elapsed = now - window * period
  local weight = (period - elapsed) / period
  local count, previous = 0, 0
  local stored = tonumber(s[1])
  if stored == window then
    count = tonumber(s[2]) or 0
    previous = tonumber(s[3]) or 0
  elseif stored == window - 1 then
    previous = tonumber(s[2]) or 0
  end
  local estimate = previous * weight + count
  if estimate + cost <= limit then
    count = count + cost
    local remaining = limit - (previous * weight + count)
    return true, remaining, sliding_wait(math.floor(remaining) + 1, count, previous, elapsed, limit, period), 0,
      { 'window', num(window), 'count', num(count), 'previous', num(previous) }, 2 * period - elapsed
  end
  local wait = sliding_wait(cost, count, previous, elapsed, limit, period)
  return false, limit - estimate, wait, wait
end

local function token_bucket(state, now, limit, burst, period, cost)
  local s = redis.call('HMGET', state, 'tokens', 'updatedAt')
  local capacity = limit + burst
  local rate = limit / period
  local tokens = capacity
  if s[1] or s[2] then
    local updated = tonumber(s[2]) or now
    local elapsed = math.max(0, now - updated)
    tokens = math.min(capacity, (tonumber(s[1]) or capacity) + elapsed * rate)
  end
  if tokens >= cost then
    tokens = tokens - cost
    local more = math.floor(tokens) + 1
    local reset = 0
    if more <= capacity then reset = (more - tokens) / rate end
    return true, tokens, reset, 0, { 'tokens', num(tokens), 'updatedAt', num(now) }, (capacity - tokens) / rate
  end
  local wait = (cost - tokens) / rate
  return false, tokens, wait, wait
end

local function leaky_bucket(state, now, limit, burst, period, cost)
  local interval = period / limit
  local capacity = burst + 1
  local tat = tonumber(redis.call('HGET', state, 'tat')) or now
  tat = math.max(tat, now)
  local new_tat = tat + cost * interval
  local allow_at = new_tat - capacity * interval
  if now >= allow_at then
    local remaining = capacity - (new_tat - now) / interval
    local more = math.floor(remaining) + 1
    local reset = 0
    if more <= capacity then reset = new_tat - now - (capacity - more) * interval end
    return true, remaining, reset, 0, { 'tat', num(new_tat) }, new_tat - now
  end
  local wait = allow_at - now
  return false, capacity - (tat - now) / interval, wait, wait
end

local ALGORITHMS = { fw = fixed_window, sw = sliding_window, tb = token_bucket, lb = leaky_bucket }

local function finite(x, fallback)
  if x ~= x or x == math.huge or x == -math.huge then return fallback end
  return x
end

local dry = ARGV[1] == '1'
local now
-- Expiry only removes state that is already equivalent to a fresh key. Under a test clock,
-- virtual time and Redis's expiry clock disagree, so keys are kept a minute longer.
local ttl_slack = 0
if ARGV[2] ~= '' then
  now = tonumber(ARGV[2])
  ttl_slack = 60000
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
local repeats = tonumber(ARGV[3])

local n = #KEYS / 2
local out = {}

-- One request: every rule evaluated, then state written only if all passed.
local function check_request()
  local writes, blocks = {}, {}
  local all_allowed = true
  for i = 1, n do
    local a = 3 + (i - 1) * 6
    local algorithm = ARGV[a + 1]
    local limit, burst, period = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
    local cost, block_ms = tonumber(ARGV[a + 5]), tonumber(ARGV[a + 6])
    local state, block = KEYS[2 * i - 1], KEYS[2 * i]

    -- The block key holds the block's end on the script's clock; PX only cleans it up.
    local blocked_for = 0
    if block_ms > 0 then blocked_for = math.max(0, (tonumber(redis.call('GET', block)) or now) - now) end

    local allowed, remaining, reset, retry, next_state, ttl
    local blocked = false
    if blocked_for > 0 then
      allowed, remaining, reset, retry, blocked = false, 0, blocked_for, blocked_for, true
    else
      if limit == 0 then
        allowed, remaining, reset, retry = false, 0, period, period
      else
        allowed, remaining, reset, retry, next_state, ttl = ALGORITHMS[algorithm](state, now, limit, burst, period, cost)
      end
      retry = finite(retry, period)
      reset = finite(reset, period)
      if not allowed and block_ms > 0 then
        retry = math.max(retry, block_ms)
        reset = math.max(reset, block_ms)
        blocked = true
        blocks[#blocks + 1] = { block, now + block_ms, block_ms }
      end
    end

    if not allowed then all_allowed = false end
    if allowed and next_state then writes[#writes + 1] = { state, next_state, math.max(1, math.ceil(ttl)) } end

    -- A refusal's reset is its retry, to the millisecond (finalize in algorithm.ts).
    local retry_ms = 0
    local reset_ms = math.ceil(math.max(0, reset))
    if not allowed then
      retry_ms = math.max(1, math.ceil(retry))
      reset_ms = retry_ms
    end
    out[#out + 1] = allowed and 1 or 0
    out[#out + 1] = math.floor(math.max(0, remaining))
    out[#out + 1] = reset_ms
    out[#out + 1] = retry_ms
    out[#out + 1] = blocked and 1 or 0
  end

  if not dry then
    if all_allowed then
      for _, w in ipairs(writes) do
        redis.call('HSET', w[1], unpack(w[2]))
        redis.call('PEXPIRE', w[1], w[3] + ttl_slack)
      end
    end
    for _, b in ipairs(blocks) do
      redis.call('SET', b[1], num(b[2]), 'PX', math.ceil(b[3]) + ttl_slack)
    end
  end
end

for _ = 1, repeats do check_request() end
return out
