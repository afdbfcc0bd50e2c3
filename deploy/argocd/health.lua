-- Argo CD health of a sluice.dev object (every kind), from its status conditions.
-- The same script for resource.customizations.health.sluice.dev_<Kind>; docs/argocd.md.
--   Progressing: no status yet, status older than the spec, or not Programmed yet
--   Degraded:    Accepted=False, ResolvedRefs=False, or a gateway rejected the snapshot
--   Healthy:     Programmed=True (an ApiKey that is disabled says so in the message)
-- Written for Argo CD's Lua 5.1 (gopher-lua) and tested with lua5.4 (e2e/argocd-health.test.ts).
local hs = {}

local function find(conditions, type)
  for _, c in ipairs(conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

local function describe(c)
  if c.message ~= nil and c.message ~= "" then
    return c.type .. " " .. c.status .. " (" .. (c.reason or "") .. "): " .. c.message
  end
  return c.type .. " " .. c.status .. " (" .. (c.reason or "") .. ")"
end

local conditions = {}
if obj.status ~= nil and obj.status.conditions ~= nil then
  conditions = obj.status.conditions
end
local accepted = find(conditions, "Accepted")
if accepted == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Sluice operator to report status"
  return hs
end

-- A condition written for an older generation says nothing about the current spec.
local generation = obj.metadata.generation
if generation ~= nil then
  for _, c in ipairs(conditions) do
    if c.observedGeneration ~= nil and c.observedGeneration < generation then
      hs.status = "Progressing"
      hs.message = "Waiting for the Sluice operator to observe generation " .. generation
      return hs
    end
  end
end

if accepted.status == "False" then
  hs.status = "Degraded"
  hs.message = describe(accepted)
  return hs
end
local resolved = find(conditions, "ResolvedRefs")
if resolved ~= nil and resolved.status == "False" then
  hs.status = "Degraded"
  hs.message = describe(resolved)
  return hs
end

local programmed = find(conditions, "Programmed")
if programmed == nil or programmed.status ~= "True" then
  -- A rejected snapshot does not heal by waiting: the gateways keep the previous one.
  if programmed ~= nil and programmed.reason == "Rejected" then
    hs.status = "Degraded"
  else
    hs.status = "Progressing"
  end
  if programmed ~= nil then
    hs.message = describe(programmed)
  else
    hs.message = "Accepted; waiting for the gateways to serve it"
  end
  return hs
end

hs.status = "Healthy"
hs.message = programmed.message or ""
local active = find(conditions, "Active")
if active ~= nil and active.status == "False" then
  hs.message = "Disabled: " .. (active.message or "the gateways refuse this key")
end
local conflicted = find(conditions, "Conflicted")
if conflicted ~= nil and conflicted.status == "True" then
  hs.message = hs.message .. " " .. describe(conflicted)
end
return hs
