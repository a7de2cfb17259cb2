#!/usr/bin/env bash
# The demo: runs the operator (under its own ServiceAccount) against the local cluster, applies
# OpenShift's frontend example, and shows the rollout until the DeploymentConfig is Available.
#   hack/demo.sh        start (idempotent)
#   hack/demo.sh stop   stop the operator this script started (by its recorded PID)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
state="$root/.cluster"
pidfile="$state/operator.pid"
kubectl="$root/hack/kubectl"
export KUBECONFIG="$state/kubeconfig"
ns=demo

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

if [ "${1:-}" = stop ]; then
  if running; then
    kill "$(cat "$pidfile")" && echo "stopped the demo operator (pid $(cat "$pidfile"))"
  fi
  rm -f "$pidfile"
  exit 0
fi

mkdir -p "$state/logs"
if running; then
  echo "operator already running (pid $(cat "$pidfile"))"
else
  KUBECONFIG="$state/operator.kubeconfig" RUST_LOG=info \
    nohup "$root/target/debug/cutover" run >>"$state/logs/operator.log" 2>&1 &
  echo $! >"$pidfile"
  echo "operator started (pid $!, logs: .cluster/logs/operator.log)"
fi

"$kubectl" create namespace "$ns" --dry-run=client -o yaml | "$kubectl" apply --server-side -f - >/dev/null
"$kubectl" apply --server-side -n "$ns" -f "$root/examples/frontend.yaml"

bar() { # bar <done> <total>
  local done=$1 total=$2 width=30 filled
  filled=$(( total > 0 ? done * width / total : width ))
  printf '[%s%s]' "$(printf '%*s' "$filled" '' | tr ' ' '#')" "$(printf '%*s' $((width - filled)) '' | tr ' ' '-')"
}

echo "waiting for dc/frontend to roll out..."
deadline=$(( $(date +%s) + 180 ))
while :; do
  read -r rev want avail reason < <("$kubectl" get dc frontend -n "$ns" -o \
    'jsonpath={.status.latestVersion} {.spec.replicas} {.status.availableReplicas} {.status.conditions[?(@.type=="Progressing")].reason}{"\n"}' 2>/dev/null || echo "0 0 0 -")
  line="revision ${rev:-0}: $(bar "${avail:-0}" "${want:-0}") ${avail:-0}/${want:-0} pods available  ${reason:-}"
  if [ -t 1 ]; then printf '\r%s\033[K' "$line"; else echo "$line"; fi
  if [ "${reason:-}" = NewReplicationControllerAvailable ]; then break; fi
  if [ "$(date +%s)" -gt "$deadline" ]; then
    echo; echo "dc/frontend did not roll out in time; see .cluster/logs/operator.log" >&2; exit 1
  fi
  sleep 0.5
done
[ -t 1 ] && echo
"$kubectl" wait -n "$ns" --for=condition=Available dc/frontend --timeout=60s
echo
"$kubectl" get dc,rs -n "$ns"
cat <<MSG

The frontend DeploymentConfig is Available. Look around:
  export KUBECONFIG=$KUBECONFIG
  hack/kubectl -n $ns get dc frontend -o yaml        # status, conditions, details
  hack/kubectl -n $ns get rs,pods --show-labels      # revision frontend-1 and its pods
  hack/kubectl -n $ns get events                     # DeploymentCreated, scaling
  hack/kubectl -n $ns patch dc frontend --type=merge -p '{"spec":{"template":{"metadata":{"labels":{"rev":"2"}}}}}'
                                                     # a config change: watch revision 2 roll out
Stop it: make demo-down (the operator) and make cluster-down (the local cluster).
MSG
