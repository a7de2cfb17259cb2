-- Argo CD health of a route.openshift.io/v1 Route run by cutover (Lua 5.1).
-- Healthy once admitted (its Gateway accepted the route) with every backend Service found;
-- Progressing while the Gateway has not answered (Admitted Unknown);
-- Degraded when refused, or when a backend Service is missing (ResolvedRefs False: that
-- backend gets no traffic, though the route is admitted, as on OpenShift's router);
-- while a traffic shift runs, Progressing (Suspended when paused, Degraded when it failed).
local hs = {}
local status = obj.status
local generation = obj.metadata.generation
if status ~= nil and generation ~= nil and status.observedGeneration ~= nil and status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end
if status == nil or status.ingress == nil or #status.ingress == 0 then
  hs.status = "Progressing"
  hs.message = "Waiting for the Route to be admitted"
  return hs
end
for _, ingress in ipairs(status.ingress) do
  local admitted = nil
  local resolved = nil
  if ingress.conditions ~= nil then
    for _, c in ipairs(ingress.conditions) do
      if c.type == "Admitted" then
        admitted = c
      elseif c.type == "ResolvedRefs" then
        resolved = c
      end
    end
  end
  if admitted == nil then
    hs.status = "Progressing"
    hs.message = "Waiting for the Route to be admitted"
    return hs
  end
  if admitted.status == "Unknown" then
    hs.status = "Progressing"
    hs.message = (admitted.reason or "Pending") .. ": " .. (admitted.message or "")
    return hs
  end
  if admitted.status == "False" then
    hs.status = "Degraded"
    hs.message = (admitted.reason or "NotAdmitted") .. ": " .. (admitted.message or "")
    return hs
  end
  if resolved ~= nil and resolved.status == "False" then
    hs.status = "Degraded"
    hs.message = (resolved.reason or "BackendNotFound") .. ": " .. (resolved.message or "")
    return hs
  end
end
-- A progressive traffic shift (cutover.io/traffic-shift) that runs, waits or went wrong.
local shift = status.shift
if shift ~= nil and shift.phase ~= nil then
  local where = (shift.to or "") .. " at " .. tostring(shift.weight or 0) .. "% (step " .. tostring(shift.step or 0) .. ")"
  if shift.phase == "Progressing" then
    hs.status = "Progressing"
    hs.message = "Traffic shift to " .. where .. ": " .. (shift.message or "")
    return hs
  end
  if shift.phase == "Paused" then
    hs.status = "Suspended"
    hs.message = "Traffic shift paused: " .. where
    return hs
  end
  if shift.phase == "Failed" or shift.phase == "Invalid" then
    hs.status = "Degraded"
    hs.message = "Traffic shift " .. shift.phase .. ": " .. (shift.message or "")
    return hs
  end
end
hs.status = "Healthy"
hs.message = "Admitted"
if status.ingress[1].host ~= nil then
  hs.message = "Admitted: " .. status.ingress[1].host
end
return hs
