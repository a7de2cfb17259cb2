#!/usr/bin/env bash
# Installs the CRDs and the operator's RBAC (deploy/) on the local cluster, and writes
# .cluster/operator.kubeconfig: a kubeconfig with a token of the operator's own ServiceAccount,
# so the operator runs locally with exactly the rights deploy/ grants it (not cluster-admin).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
kubectl="$root/hack/kubectl"
export KUBECONFIG="${KUBECONFIG:-$root/.cluster/kubeconfig}"

"$kubectl" apply --server-side --force-conflicts -f "$root/crds/" >/dev/null
"$kubectl" apply --server-side --force-conflicts -f "$root/deploy/00-namespace.yaml" -f "$root/deploy/10-rbac.yaml" \
  -f "$root/deploy/15-flow-schema.yaml" >/dev/null
"$kubectl" wait --for=condition=Established --timeout=60s -f "$root/crds/" >/dev/null
# ImageStreams' lookupPolicy.local and server-owned tag generations (MutatingAdmissionPolicies:
# the local cluster serves them).
# Established is not yet listable: right after the API server starts (or a CRD changes) its
# watch cache answers 429 "storage is (re)initializing" for a while, longer on a busy machine.
# Wait until every custom resource lists, so the operators the tests start sync at once.
deadline=$((SECONDS + 120))
for r in $("$kubectl" get crd -o jsonpath='{range .items[*]}{.spec.names.plural}.{.spec.group}{" "}{end}'); do
  until "$kubectl" get "$r" -A --chunk-size=1 --request-timeout=10s -o name >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "install-local: $r does not list yet" >&2; exit 1; }
    sleep 0.5
  done
done
"$kubectl" apply --server-side --force-conflicts -f "$root/deploy/30-image-lookup.yaml" \
  -f "$root/deploy/31-tag-generations.yaml" >/dev/null

token=$("$kubectl" -n cutover-system create token cutover --duration=48h)
server=$("$kubectl" config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}')
ca=$("$kubectl" config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
out="$root/.cluster/operator.kubeconfig"
umask 077
cat >"$out" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: $server
    certificate-authority-data: $ca
users:
- name: cutover
  user:
    token: $token
contexts:
- name: cutover
  context:
    cluster: local
    user: cutover
current-context: cutover
KUBECONFIG
echo "installed CRDs and RBAC; operator kubeconfig: .cluster/operator.kubeconfig"
