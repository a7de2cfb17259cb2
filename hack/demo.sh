#!/usr/bin/env bash
# The demo: runs a registry on 127.0.0.1 and the operator (under its own ServiceAccount) against
# the local cluster, pushes an image, applies OpenShift's frontend example with an ImageStream
# that imports from that registry, and shows the rollout until the DeploymentConfig is
# Available; then pushes a new image under the same tag and shows the image change roll out.
#   hack/demo.sh        start (idempotent; each run pushes one new image)
#   hack/demo.sh stop   stop the operator and the registry this script started (by their PIDs)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
state="$root/.cluster"
pidfile="$state/operator.pid"
registry_pidfile="$state/registry.pid"
registry_dir="$state/registry"
registry_port="${CUTOVER_DEMO_REGISTRY_PORT:-5000}"
registry="127.0.0.1:$registry_port"
kubectl="$root/hack/kubectl"
export KUBECONFIG="$state/kubeconfig"
ns=demo

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

if [ "${1:-}" = stop ]; then
  for what in operator registry; do
    file="$state/$what.pid"
    if running "$file"; then
      kill "$(cat "$file")" && echo "stopped the demo $what (pid $(cat "$file"))"
    fi
    rm -f "$file"
  done
  exit 0
fi

mkdir -p "$state/logs"
# The registry: TLS from the cluster's CA, one user with a password made here.
if running "$registry_pidfile"; then
  echo "registry already running on $registry (pid $(cat "$registry_pidfile"))"
else
  rm -rf "$registry_dir"
  password="demo-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
  registry_bin="$(echo "$password" | "$root/hack/registry-config.sh" "$registry_dir" "$registry_port" demo)"
  echo "$password" >"$registry_dir/password"
  nohup "$registry_bin" serve "$registry_dir/config.yml" >>"$state/logs/registry.log" 2>&1 &
  echo $! >"$registry_pidfile"
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$registry_port") 2>/dev/null && break; sleep 0.1; done
  echo "registry started on $registry (pid $!, logs: .cluster/logs/registry.log)"
fi
password="$(cat "$registry_dir/password")"
pushed_first=false
[ -f "$registry_dir/first-push" ] && pushed_first=true
push() { # push <text>: a new image under hello-openshift:latest; prints its digest
  REGISTRY_USER=demo REGISTRY_PASSWORD="$password" REGISTRY_CA="$state/pki/ca.crt" \
    cargo run -q --manifest-path "$root/Cargo.toml" --example push-image -- "$registry/openshift/hello-openshift:latest" "$1"
}

# Scheduled imports every 10 s instead of OpenShift's 15 minutes, so a push shows quickly.
if running "$pidfile"; then
  echo "operator already running (pid $(cat "$pidfile"))"
else
  KUBECONFIG="$state/operator.kubeconfig" RUST_LOG=info \
    nohup "$root/target/debug/cutover" run --registry-ca "$state/pki/ca.crt" --image-import-interval 10s \
    >>"$state/logs/operator.log" 2>&1 &
  echo $! >"$pidfile"
  echo "operator started (pid $!, logs: .cluster/logs/operator.log)"
fi

if ! $pushed_first; then
  echo "pushing $registry/openshift/hello-openshift:latest"
  push "Hello OpenShift!" >/dev/null
  touch "$registry_dir/first-push"
fi
"$kubectl" create namespace "$ns" --dry-run=client -o yaml | "$kubectl" apply --server-side -f - >/dev/null
"$kubectl" create secret docker-registry registry-pull -n "$ns" --docker-server="$registry" \
  --docker-username=demo --docker-password="$password" --dry-run=client -o yaml |
  "$kubectl" apply --server-side --force-conflicts -f - >/dev/null
# The stream frontend's ImageChange trigger follows, importing from the registry.
"$kubectl" apply --server-side -n "$ns" -f - <<YAML
apiVersion: image.openshift.io/v1
kind: ImageStream
metadata:
  name: hello-openshift
spec:
  tags:
    - name: latest
      from:
        kind: DockerImage
        name: $registry/openshift/hello-openshift:latest
      importPolicy:
        scheduled: true
YAML
# Again on a re-run: the image field then belongs to the image trigger (field manager
# cutover-image-trigger); taking it back writes the example's image, which the trigger replaces
# with the imported one before anything rolls out.
"$kubectl" apply --server-side --force-conflicts -n "$ns" -f "$root/examples/frontend.yaml"

# Waits until dc/frontend has revision <N>, then follows its rollout with the plugin's own
# `rollout status` (as `oc rollout status` draws it) until it is done.
watch_rollout() {
  local want_rev=$1 deadline=$(( $(date +%s) + 180 )) rev
  until rev="$("$kubectl" get dc frontend -n "$ns" -o 'jsonpath={.status.latestVersion}' 2>/dev/null)" \
    && [ "${rev:-0}" -ge "$want_rev" ]; do
    if [ "$(date +%s)" -gt "$deadline" ]; then
      echo "dc/frontend has no revision $want_rev yet; see .cluster/logs/operator.log" >&2; exit 1
    fi
    sleep 0.5
  done
  PATH="$root/target/debug:$PATH" "$kubectl" dc -n "$ns" rollout status frontend --timeout 180
}

echo "waiting for dc/frontend to roll out (the first rollout waits for the import)..."
watch_rollout 1
"$kubectl" wait -n "$ns" --for=condition=Available dc/frontend --timeout=60s
current="$("$kubectl" get dc frontend -n "$ns" -o jsonpath='{.status.latestVersion}')"

echo
echo "pushing a new image under the same tag..."
digest="$(push "Hello again, $(date -u +%FT%TZ)")"
echo "pushed $registry/openshift/hello-openshift@$digest; the next scheduled import picks it up"
watch_rollout $(( current + 1 ))
echo
"$kubectl" get dc,rs -n "$ns"
echo
"$kubectl" get dc frontend -n "$ns" -o jsonpath='revision {.status.latestVersion}: {.status.details.message}: {.status.details.causes[0].imageTrigger.from.name}{"\n"}'
cat <<MSG

The frontend DeploymentConfig is Available, and rolled out the image you pushed. Look around:
  export KUBECONFIG=$KUBECONFIG
  hack/kubectl -n $ns get is hello-openshift -o yaml  # the tag's images, newest first, by digest
  hack/kubectl -n $ns get dc frontend -o yaml        # status, conditions, details, lastTriggeredImage
  hack/kubectl -n $ns get rs,pods --show-labels      # one ReplicaSet per revision and its pods
  hack/kubectl -n $ns get events                     # Imported, DeploymentCreated, scaling
  hack/kubectl -n $ns patch dc frontend --type=merge -p '{"spec":{"template":{"metadata":{"labels":{"rev":"2"}}}}}'
                                                     # a config change: watch the next revision roll out
Run make demo again to push one more image. Stop it: make demo-down (the operator and the
registry) and make cluster-down (the local cluster).
MSG
