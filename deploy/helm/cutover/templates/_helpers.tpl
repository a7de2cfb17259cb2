{{/* Labels on every object: the name the plain manifests use, plus Helm's own. */}}
{{- define "cutover.labels" -}}
app.kubernetes.io/name: cutover
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/* An operator's pod labels and selector, from its shard ("": the unlabelled namespaces'
operator, whose selector predates shards and must not match a shard's pods). */}}
{{- define "cutover.podLabels" -}}
{{- if . -}}
app.kubernetes.io/name: cutover-shard
cutover.io/shard: {{ . }}
{{- else -}}
app.kubernetes.io/name: cutover
{{- end -}}
{{- end -}}

{{/* The operator's image, which is also the default deployer image. */}}
{{- define "cutover.image" -}}
{{ printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end -}}

{{/* The operator's rights; a ClusterRole, or a Role in watchNamespace. */}}
{{- define "cutover.rules" -}}
# The DeploymentConfigs it reconciles, and their status.
# patch: to write back a template the user asked to roll back to (rollout undo), and the
# images ImageChange triggers resolve to.
- apiGroups: ["apps.openshift.io"]
  resources: ["deploymentconfigs"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["apps.openshift.io"]
  resources: ["deploymentconfigs/status"]
  verbs: ["get", "patch", "update"]
# The ImageStreams ImageChange triggers follow; the importer writes their status;
# tagImages hooks tag images into them (creating a stream that is missing).
- apiGroups: ["image.openshift.io"]
  resources: ["imagestreams"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: ["image.openshift.io"]
  resources: ["imagestreams/status"]
  verbs: ["patch"]
{{- if .Values.images.annotationTriggers }}
# Workloads with the image.openshift.io/triggers annotation: watched by metadata, read and
# patched (only the images their triggers name) when a followed tag moves.
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets", "daemonsets"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["batch"]
  resources: ["cronjobs"]
  verbs: ["get", "list", "watch", "patch"]
{{- end }}
# Registry credentials for imports, as OpenShift's importer reads them: the pull Secrets
# (kubernetes.io/dockerconfigjson, dockercfg) of an ImageStream's namespace, listed by type
# when a tag is imported; never watched or cached.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["list"]
# One ReplicaSet per revision: created, scaled, annotated, adopted and pruned.
- apiGroups: ["apps"]
  resources: ["replicasets"]
  verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
# Lifecycle hooks and deployers run as Jobs owned by their revision; what a finished Job's
# pod said is recorded on the Job (patch).
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# Deployer Jobs run as a ServiceAccount cutover-deployer in their namespace, bound to a Role
# the operator manages there (see strategy::deployer::role_rules). Creating that Role needs
# every right it grants (RBAC's escalation rule), hence replicasets/scale below; the operator
# itself never uses it. Only the deployer's objects may be read or changed.
- apiGroups: [""]
  resources: ["serviceaccounts"]
  verbs: ["create"]
- apiGroups: [""]
  resources: ["serviceaccounts"]
  resourceNames: ["cutover-deployer"]
  verbs: ["get"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["roles", "rolebindings"]
  verbs: ["create"]
- apiGroups: ["rbac.authorization.k8s.io"]
  resources: ["roles", "rolebindings"]
  resourceNames: ["cutover-deployer"]
  verbs: ["get", "update"]
- apiGroups: ["apps"]
  resources: ["replicasets/scale"]
  verbs: ["get", "update", "patch"]
# Pods are only counted (metadata), never changed.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
# Routes, realised as Gateway API routes it owns; the Services they name are only read.
- apiGroups: ["route.openshift.io"]
  resources: ["routes"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["route.openshift.io"]
  resources: ["routes/status"]
  verbs: ["get", "patch", "update"]
# Realised as Gateway API objects it owns (labelled cutover.io/route): routes, ListenerSets
# for Routes' own certificates (and ReferenceGrants letting a Gateway elsewhere read them),
# BackendTLSPolicies for re-encrypt; parent Gateways in scope are watched (their changes wake
# the Routes they parent), those elsewhere read with get. patch: a Gateway annotated
# cutover.io/manage-listeners: "true" gets a listener per Route with its own certificate.
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes", "tlsroutes", "listenersets", "backendtlspolicies", "referencegrants"]
  verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["gateways"]
  verbs: ["get", "list", "watch", "patch"]
# A Gateway's class says its implementation (which sticky-session mechanism it serves).
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["gatewayclasses"]
  verbs: ["get"]
# Sticky sessions of weighted Routes on Traefik: a TraefikService <route>-sticky it owns.
- apiGroups: ["traefik.io"]
  resources: ["traefikservices"]
  verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
# A Route's certificate (Secret <route>-tls) and destination CA (ConfigMap
# <route>-destination-ca), watched by the cutover.io/route label. Config triggers (opt-in)
# watch ConfigMaps and Secrets by metadata and read those a DeploymentConfig follows by name.
- apiGroups: [""]
  resources: ["secrets", "configmaps"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# A generated host is written into the Route's spec.host.
- apiGroups: ["route.openshift.io"]
  resources: ["routes"]
  verbs: ["patch"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch"]
# Which backends have ready endpoints (one without gets no share of a Route's traffic).
- apiGroups: ["discovery.k8s.io"]
  resources: ["endpointslices"]
  verbs: ["list", "watch"]
# Owner references with blockOwnerDeletion (revisions owned by their DeploymentConfig, hook
# Jobs by their revision, Gateway routes by their Route) need this where the
# OwnerReferencesPermissionEnforcement admission plugin is on.
- apiGroups: ["apps.openshift.io"]
  resources: ["deploymentconfigs/finalizers"]
  verbs: ["update"]
- apiGroups: ["apps"]
  resources: ["replicasets/finalizers"]
  verbs: ["update"]
- apiGroups: ["route.openshift.io"]
  resources: ["routes/finalizers"]
  verbs: ["update"]
# Events on the DeploymentConfigs.
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}
