-- Argo CD health of an apps.openshift.io/v1 DeploymentConfig run by cutover (Lua 5.1).
-- Progressing until the operator has observed the latest spec and its rollout is over;
-- Degraded when the rollout failed; Suspended while paused; Healthy at rest with every pod
-- available. Install: see docs/gitops.md, "Using cutover with Argo CD / Flux".
local hs = {}
local status = obj.status
if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe the DeploymentConfig"
  return hs
end
local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end

local conditions = {}
if status.conditions ~= nil then
  for _, c in ipairs(status.conditions) do
    conditions[c.type] = c
  end
end
local function describe(c)
  local text = c.reason or c.type
  if c.message ~= nil and c.message ~= "" then
    text = text .. ": " .. c.message
  end
  return text
end

-- A failed rollout: cutover says Stalled; Progressing=False says the same on any version.
local stalled = conditions["Stalled"]
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end
local progressing = conditions["Progressing"]
if progressing ~= nil and progressing.status == "False" then
  hs.status = "Degraded"
  hs.message = describe(progressing)
  return hs
end

if obj.spec ~= nil and obj.spec.paused == true then
  hs.status = "Suspended"
  hs.message = "Rollouts are paused"
  return hs
end

local reconciling = conditions["Reconciling"]
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = describe(reconciling)
  return hs
end
if progressing ~= nil and progressing.reason ~= "NewReplicationControllerAvailable" then
  hs.status = "Progressing"
  hs.message = describe(progressing)
  return hs
end

local want = 0
if obj.spec ~= nil and obj.spec.replicas ~= nil and obj.spec.test ~= true then
  want = obj.spec.replicas
end
local available = status.availableReplicas or 0
if available < want then
  hs.status = "Progressing"
  hs.message = available .. " of " .. want .. " replicas available"
  return hs
end
hs.status = "Healthy"
hs.message = "Revision " .. (status.latestVersion or 0) .. " rolled out: " .. available .. " of " .. want .. " replicas available"
return hs
