-- wrk script for the half-load run when wrk2 is not installed: each connection waits
-- WRK_DELAY_MS between a response and its next request, so C connections offer about
-- C * 1000 / (delay + latency) requests/s, a fixed-rate approximation (closed loop, so
-- unlike wrk2 it does not correct coordinated omission). wrk's timers have 1 ms steps, so a
-- fractional delay is met on average by rounding up or down at random.
local d = tonumber(os.getenv("WRK_DELAY_MS")) or 1
local base = math.floor(d)
local frac = d - base

function delay()
  if math.random() < frac then
    return base + 1
  end
  return base
end
