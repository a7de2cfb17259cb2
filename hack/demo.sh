#!/usr/bin/env bash
# The demo: runs a registry on 127.0.0.1 and the operator (under its own ServiceAccount) against
# the local cluster, pushes an image, applies OpenShift's frontend example with an ImageStream
# that imports from that registry, and shows the rollout until the DeploymentConfig is
# Available; then pushes a new image under the same tag and shows the image change roll out.
# With the real node (hack/cluster-real-node.sh) the namespace's pods run there, the image is a
# small HTTP server answering its text (hack/testapp/serve), and Traefik serves the frontend's
# Route on 127.0.0.1: the demo shows the answer change under requests during the rollout.
#   hack/demo.sh        start (idempotent; each run pushes one new image)
#   hack/demo.sh stop   stop the operator, the registry and Traefik this script started (by PID)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
state="$root/.cluster"
pidfile="$state/operator.pid"
registry_pidfile="$state/registry.pid"
registry_dir="$state/registry"
registry_port="${CUTOVER_DEMO_REGISTRY_PORT:-5000}"
registry="127.0.0.1:$registry_port"
traefik_pidfile="$state/traefik.pid"
http_port="${CUTOVER_DEMO_HTTP_PORT:-9080}"
route_domain=apps.example.com
host="frontend-demo.$route_domain"
kubectl="$root/hack/kubectl"
export KUBECONFIG="$state/kubeconfig"
ns=demo

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

if [ "${1:-}" = stop ]; then
  for what in operator registry traefik; do
    file="$state/$what.pid"
    if running "$file"; then
      kill "$(cat "$file")" && echo "stopped the demo $what (pid $(cat "$file"))"
    fi
    rm -f "$file"
  done
  exit 0
fi

mkdir -p "$state/logs"
real_node=false
if [ -f "$state/real-node" ]; then
  real_node=true
else
  echo "no real node ($(cat "$state/real-node.unavailable" 2>/dev/null || echo "not started")):" \
    "the frontend's pods are kwok's, and nothing answers HTTP"
fi
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
push() { # push <text>: a new image under hello-openshift:latest answering <text>; prints its digest
  export REGISTRY_USER=demo REGISTRY_PASSWORD="$password" REGISTRY_CA="$state/pki/ca.crt"
  local to="$registry/openshift/hello-openshift:latest" app="$state/demo-app"
  if ! $real_node; then
    cargo run -q --manifest-path "$root/Cargo.toml" --example push-image -- "$to" "$1"
    return
  fi
  # The node's busybox under hack/testapp/serve; on SIGTERM it serves 2 s more while Traefik
  # learns that the pod is going, so a rollout loses no request.
  rm -rf "$app" && mkdir -p "$app/app"
  printf '%s\n' "$1" >"$app/app/version"
  cp "$root/hack/testapp/serve" "$app/app/serve"
  cargo run -q --manifest-path "$root/Cargo.toml" --example node-image -- "$to" \
    --layer "$state/node/images/busybox" --layer "$app" --entrypoint /app/serve --env PRESTOP_SLEEP=2
}

# Traefik serves the demo namespace's Gateway on 127.0.0.1 (built once, cached).
if $real_node; then
  if running "$traefik_pidfile"; then
    echo "Traefik already running on 127.0.0.1:$http_port (pid $(cat "$traefik_pidfile"))"
  else
    traefik_bin="$("$root/hack/build-traefik.sh")"
    env -u HTTP_PROXY -u HTTPS_PROXY nohup "$traefik_bin" --global.checknewversion=false \
      --global.sendanonymoususage=false --providers.kubernetesgateway=true \
      --providers.kubernetesgateway.namespaces="$ns" --entrypoints.web.address="127.0.0.1:$http_port" \
      >>"$state/logs/traefik.log" 2>&1 &
    echo $! >"$traefik_pidfile"
    echo "Traefik started on 127.0.0.1:$http_port (pid $!, logs: .cluster/logs/traefik.log)"
  fi
fi

# Scheduled imports every 10 s instead of OpenShift's 15 minutes, so a push shows quickly.
# Routes without a host are served on <name>-<namespace>.apps.example.com.
if running "$pidfile"; then
  echo "operator already running (pid $(cat "$pidfile"))"
else
  KUBECONFIG="$state/operator.kubeconfig" RUST_LOG=info \
    nohup "$root/target/debug/cutover" run --registry-ca "$state/pki/ca.crt" --image-import-interval 10s \
    --route-domain "$route_domain" \
    >>"$state/logs/operator.log" 2>&1 &
  echo $! >"$pidfile"
  echo "operator started (pid $!, logs: .cluster/logs/operator.log)"
fi

if ! $pushed_first; then
  echo "pushing $registry/openshift/hello-openshift:latest"
  push "Hello OpenShift!" >/dev/null
  touch "$registry_dir/first-push"
fi
if $real_node; then
  # The namespace's pods on the real node, placed as an OpenShift project's node selector places
  # them (the API server's PodNodeSelector and PodTolerationRestriction), the example unchanged.
  label="$(sed -n 's/^label=//p' "$state/real-node")"
  taint="$(sed -n 's/^taint=//p' "$state/real-node")"
  "$kubectl" apply --server-side --force-conflicts -f - >/dev/null <<YAML
apiVersion: v1
kind: Namespace
metadata:
  name: $ns
  annotations:
    scheduler.alpha.kubernetes.io/node-selector: $label
    scheduler.alpha.kubernetes.io/defaultTolerations: '[{"key": "${taint%%=*}", "operator": "Exists", "effect": "${taint##*:}"}]'
YAML
  # The node pulls from the demo's registry over TLS with the cluster CA (containerd's hosts.toml,
  # read at each pull), with the pull Secret the namespace's default ServiceAccount names.
  mkdir -p "$state/node/certs.d/$registry"
  printf 'server = "https://%s"\n\n[host."https://%s"]\n  capabilities = ["pull", "resolve"]\n  ca = "%s"\n' \
    "$registry" "$registry" "$state/pki/ca.crt" >"$state/node/certs.d/$registry/hosts.toml"
else
  "$kubectl" create namespace "$ns" --dry-run=client -o yaml | "$kubectl" apply --server-side -f - >/dev/null
fi
"$kubectl" create secret docker-registry registry-pull -n "$ns" --docker-server="$registry" \
  --docker-username=demo --docker-password="$password" --dry-run=client -o yaml |
  "$kubectl" apply --server-side --force-conflicts -f - >/dev/null
"$kubectl" apply --server-side --force-conflicts -n "$ns" -f - >/dev/null <<YAML
apiVersion: v1
kind: ServiceAccount
metadata:
  name: default
imagePullSecrets:
  - name: registry-pull
YAML
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
# Exposed as `oc expose` would, on the demo's Gateway (Traefik's class), which the Route names.
"$kubectl" apply --server-side --force-conflicts -n "$ns" -f "$root/examples/frontend-route.yaml"
"$kubectl" annotate -n "$ns" route frontend --overwrite "cutover.io/gateway=$ns/public" >/dev/null
"$kubectl" apply --server-side -f - >/dev/null <<YAML
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: cutover-demo
spec:
  controllerName: traefik.io/gateway-controller
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: public
  namespace: $ns
spec:
  gatewayClassName: cutover-demo
  listeners:
    - name: web
      protocol: HTTP
      port: $http_port
YAML

# The frontend's answer through Traefik, or why there is none.
answer() {
  local out code
  out="$(curl -s --noproxy '*' -m 2 -H "Host: $host" -w '\n%{http_code}' "http://127.0.0.1:$http_port/")" \
    || { echo "no answer"; return; }
  code="${out##*$'\n'}"
  if [ "$code" = 200 ]; then echo "${out%$'\n'*}"; else echo "HTTP $code"; fi
}

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
if $real_node; then
  # Traefik serves the Route once it has seen the HTTPRoute the operator made of it.
  deadline=$(( $(date +%s) + 60 ))
  while first="$(answer)"; [ "$first" = "no answer" ] || [ "${first#HTTP }" != "$first" ]; do
    if [ "$(date +%s)" -gt "$deadline" ]; then
      echo "Traefik does not serve $host: $first; see .cluster/logs/traefik.log" >&2; exit 1
    fi
    sleep 0.5
  done
  echo
  echo "curl -H 'Host: $host' http://127.0.0.1:$http_port/"
  echo "$first"
  # A request every 0.1 s while the next revision rolls out.
  answers="$state/logs/demo-answers.log"
  while :; do answer; sleep 0.1; done >"$answers" &
  sampler=$!
  trap 'kill "$sampler" 2>/dev/null || true' EXIT
fi

echo
echo "pushing a new image under the same tag..."
text="Hello again, $(date -u +%FT%TZ)"
digest="$(push "$text")"
echo "pushed $registry/openshift/hello-openshift@$digest; the next scheduled import picks it up"
watch_rollout $(( current + 1 ))
echo
if $real_node; then
  # Traefik applies what it learns at most every 2 s (its providersThrottleDuration), and an old
  # pod serves 2 s after its SIGTERM: the answer changes a moment after the rollout completes.
  deadline=$(( $(date +%s) + 30 ))
  until [ "$(tail -n 1 "$answers")" = "$text" ] || [ "$(date +%s)" -gt "$deadline" ]; do sleep 0.2; done
  sleep 1
  kill "$sampler"
  echo "through Traefik from the push until the new answer, one request every 0.1 s, in order:"
  uniq -c "$answers"
  echo
fi
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
  hack/kubectl -n $ns get route,httproute frontend   # the Route and the HTTPRoute made of it
  curl -H 'Host: $host' http://127.0.0.1:$http_port/   # the frontend through Traefik (real node)
  hack/kubectl -n $ns patch dc frontend --type=merge -p '{"spec":{"template":{"metadata":{"labels":{"rev":"2"}}}}}'
                                                     # a config change: watch the next revision roll out
Run make demo again to push one more image. Stop it: make demo-down (the operator, the registry
and Traefik) and make cluster-down (the local cluster).
MSG
