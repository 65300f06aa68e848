-- Argo CD health check for the connectgr.io kinds (InstanceReplica, TrafficDistributionGroup,
-- AgentMembership, TrafficDistribution, CallerDenylist, FailoverDrill). Runs as Argo CD runs
-- custom health scripts: the object in `obj`, only Lua's base, table and package libraries.
--   Suspended    annotation connectgr.io/paused: "true"; a condition with reason Paused (also
--                what a pause until an RFC 3339 time shows while it lasts); a rollout in
--                phase Paused; Ready=False with reason DriftDetected (a change made by hand is
--                left alone on purpose) or ObserveOnly (observe mode writes nothing)
--   Degraded     Stalled=True (the spec or the account must change), a rollout Aborted; a
--                FailoverDrill whose last run Failed (its revert could not complete)
--   Progressing  no status yet, status older than the spec, Reconciling=True, a rollout under
--                way, a FailoverDrill run on (phase Shifting, Holding or Reverting)
--   Healthy      Ready=True
-- The same script serves all six kinds (argocd-cm.yaml holds one copy per kind).
local hs = {}

local function condition(t)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == t then
      return c
    end
  end
  return nil
end

local function explain(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    if c.reason ~= nil and c.reason ~= "" then
      return c.reason .. ": " .. c.message
    end
    return c.message
  end
  if c ~= nil and c.reason ~= nil and c.reason ~= "" then
    return c.reason
  end
  return fallback
end

local annotations = {}
if obj.metadata ~= nil and obj.metadata.annotations ~= nil then
  annotations = obj.metadata.annotations
end
local paused = annotations["connectgr.io/paused"]
if paused == "true" then
  hs.status = "Suspended"
  hs.message = "Paused by annotation connectgr.io/paused"
  return hs
end

if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller"
  return hs
end

local ready = condition("Ready")
local reconciling = condition("Reconciling")
local stalled = condition("Stalled")

for _, c in ipairs(obj.status.conditions) do
  if c.reason == "Paused" and c.status == "True" then
    hs.status = "Suspended"
    hs.message = explain(c, "Paused")
    return hs
  end
end
if paused ~= nil and paused ~= "" and paused ~= "false" and reconciling ~= nil and reconciling.reason == "Paused" then
  hs.status = "Suspended"
  hs.message = explain(reconciling, "Paused until " .. paused)
  return hs
end

if ready ~= nil and ready.status == "False" and (ready.reason == "DriftDetected" or ready.reason == "ObserveOnly") then
  hs.status = "Suspended"
  hs.message = explain(ready, "Left alone")
  return hs
end

if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = explain(stalled, "Stalled")
  return hs
end

local rollout = obj.status.rollout
if rollout ~= nil and rollout.phase == "Aborted" then
  hs.status = "Degraded"
  hs.message = "Rollout aborted"
  if rollout.message ~= nil then
    hs.message = hs.message .. ": " .. rollout.message
  end
  return hs
end

local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to observe generation " .. generation
  return hs
end

if obj.kind == "FailoverDrill" then
  local phase = obj.status.phase
  local current = obj.status.current
  if phase == "Shifting" or phase == "Holding" or phase == "Reverting" then
    hs.status = "Progressing"
    hs.message = "Drill " .. phase
    if current ~= nil and current.id ~= nil then
      hs.message = "Drill run " .. current.id .. ": " .. phase
    end
    if phase == "Holding" and current ~= nil and current.holdEnd ~= nil then
      hs.message = hs.message .. " until " .. current.holdEnd
    end
    return hs
  end
  local last = obj.status.lastRun
  if last ~= nil and last.result == "Failed" then
    hs.status = "Degraded"
    hs.message = "Last drill run Failed"
    if last.id ~= nil then
      hs.message = "Last drill run " .. last.id .. " Failed"
    end
    if last.reason ~= nil and last.reason ~= "" then
      hs.message = hs.message .. ": " .. last.reason
    end
    return hs
  end
end

local steps = ""
if rollout ~= nil and rollout.step ~= nil and rollout.of ~= nil then
  steps = " at step " .. rollout.step .. " of " .. rollout.of
end
local inProgress = reconciling ~= nil and reconciling.status == "True"
if rollout ~= nil and rollout.phase == "Paused" then
  hs.status = "Suspended"
  hs.message = "Rollout paused" .. steps
  return hs
end

if inProgress then
  hs.status = "Progressing"
  hs.message = explain(reconciling, "Reconciling")
  if steps ~= "" then
    hs.message = "Rollout" .. steps .. ": " .. hs.message
  end
  return hs
end

if rollout ~= nil and (rollout.phase == "Progressing" or (rollout.step ~= nil and rollout.of ~= nil and rollout.step < rollout.of)) then
  hs.status = "Progressing"
  hs.message = "Rollout" .. steps
  if steps == "" then
    hs.message = "Rollout in progress"
  end
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = explain(ready, "Ready")
  return hs
end

if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = explain(ready, "Not ready")
  return hs
end

hs.status = "Progressing"
hs.message = "Waiting for the Ready condition"
return hs
