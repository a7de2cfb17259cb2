#!/usr/bin/env bash
# The local control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok
# (two simulated nodes) on 127.0.0.1, built from source by hack/build-control-plane.sh.
#   hack/cluster.sh up       start it (idempotent: a running cluster is left alone)
#   hack/cluster.sh down     stop exactly the processes it started; logs go to .cluster/logs-last/
#   hack/cluster.sh status   exit 0 if it runs, 1 if not
# State (PKI, etcd data, PID files, logs, kubeconfig) lives in .cluster/ at the repository root.
#
# kwok runs the stages kwokctl would (pods go Running/Ready, Job pods Succeed, deleted pods go
# away) plus the chaos stages of the kwok module; they act on these labels (value "true"):
#   pod  pod-container-running-failed.stage.kwok.x-k8s.io       Running+Ready first, then Failed
#                                                               (containerFailed, exit 1) 1-2 s later
#   pod  pod-init-container-running-failed.stage.kwok.x-k8s.io  Pending -> Failed (initContainerError)
#                                                               1-2 s later, never Ready
#   node node-not-ready.stage.kwok.x-k8s.io                     node condition Ready=False
# and on annotations <label>/delay, /jitter-delay, /reason, /message, /exit-code, /container-name.
#
# Beside the kwok nodes, a real node (hack/cluster-real-node.sh): kubelet and containerd running
# real containers for the pods that ask for it; where it cannot start, `up` says why in one line,
# records it in .cluster/real-node.unavailable and goes on with the kwok nodes alone.
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "$0")")" && pwd)"
root="$(cd "$here/.." && pwd)"
. "$here/versions.sh"

state="$root/.cluster"
pki="$state/pki"
logs="$state/logs"
kubeconfig="$state/kubeconfig"

# Non-default ports, all on 127.0.0.1 (kwok opens none: no --server-address/--node-port).
# CUTOVER_PORT_OFFSET moves every port, so a second cluster (another checkout) can run beside this one.
off="${CUTOVER_PORT_OFFSET:-0}"
ETCD_CLIENT_PORT=$((23790 + off))
ETCD_PEER_PORT=$((23800 + off))
APISERVER_PORT=$((16443 + off))
KCM_PORT=$((20257 + off))
SCHEDULER_PORT=$((20259 + off))
DEPLOYMENT_CONTROLLER_PORT=$((20258 + off))
SERVICE_CIDR=10.96.0.0/16      # disjoint from the pod CIDR
POD_CIDR=10.244.0.0/16         # kwok's fake pod IPs; nothing listens on them
NODES=(kwok-node-0 kwok-node-1)

# Start order; stop order is the reverse.
# deployment-controller is kube-controller-manager running only the Deployment controller (the
# main one runs every other controller): `make bench` reads its CPU and memory on their own.
COMPONENTS=(etcd kube-apiserver kube-controller-manager deployment-controller kube-scheduler kwok)
# The real node's processes, in start order (hack/cluster-real-node.sh); stopped before the others.
NODE_COMPONENTS=(node-registry containerd kubelet)

kubectl_bin="$CP_BIN/kubectl"
kc() { "$kubectl_bin" --kubeconfig="$kubeconfig" "$@"; }

t0=${EPOCHREALTIME/,/.}
elapsed() { awk -v a="$t0" -v b="${EPOCHREALTIME/,/.}" 'BEGIN { printf "%.1f", b - a }'; }
log() { printf '[cluster %5ss] %s\n' "$(elapsed)" "$*"; }
die() { echo "cluster: $*" >&2; exit 1; }

# --- processes ---------------------------------------------------------------------------------

pidfile() { echo "$state/$1.pid"; }

# The PID recorded for a component, if that process is alive and still runs the component's
# binary (guards against a reused PID; a zombie has no exe and counts as gone).
live_pid() {
  local f pid exe
  f=$(pidfile "$1")
  [ -f "$f" ] || return 1
  pid=$(cat "$f" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  exe=${exe% (deleted)}
  [ "${exe##*/}" = "$1" ] || return 1
  echo "$pid"
}

# start <name> <args...>: runs $CP_BIN/<name> ($NODE_BIN/<name> for the real node's) detached
# (own session, stdin closed), records its PID.
start() {
  local name=$1 pid i dir=$CP_BIN
  shift
  case " ${NODE_COMPONENTS[*]} " in *" $name "*) dir=$NODE_BIN ;; esac
  setsid "$dir/$name" "$@" </dev/null >>"$logs/$name.log" 2>&1 9<&- &
  pid=$!
  echo "$pid" >"$(pidfile "$name")"
  # setsid execs the binary in the same process (it is no group leader here); wait for the exec
  # so that the recorded PID is known to be the component itself.
  for i in $(seq 100); do
    live_pid "$name" >/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.02
  done
  live_pid "$name" >/dev/null || { tail_log "$name"; die "$name did not start (pid $pid)"; }
}

tail_log() {
  [ -f "$logs/$1.log" ] || return 0
  echo "--- last lines of .cluster/logs/$1.log:" >&2
  tail -n 25 "$logs/$1.log" >&2
  echo "---" >&2
}

# stop_all: the real node first (its pods, containerd, kubelet, its registry; then what they
# left: mounts, the bridge, cgroups), then SIGTERM each recorded live PID (kwok first, etcd last).
# Nothing is ever looked up by name.
stop_all() {
  local i
  real_node_down
  for (( i=${#COMPONENTS[@]}-1; i>=0; i-- )); do stop_component "${COMPONENTS[$i]}"; done
}

# stop_component <name>: SIGTERM its recorded live PID, wait up to 15 s for it to exit, then
# SIGKILL that same PID.
stop_component() {
  local name=$1 pid n
  pid=$(live_pid "$name") || { rm -f "$(pidfile "$name")"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for (( n=0; n<150; n++ )); do
    live_pid "$name" >/dev/null || break
    sleep 0.1
  done
  if live_pid "$name" >/dev/null; then
    echo "cluster: $name (pid $pid) ignored SIGTERM for 15 s; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    for (( n=0; n<50; n++ )); do live_pid "$name" >/dev/null || break; sleep 0.1; done
  fi
  echo "stopped $name (pid $pid)"
  rm -f "$(pidfile "$name")"
}

# --- probes ------------------------------------------------------------------------------------

api() { # api <path>: GET as the admin user
  curl -sf --max-time 3 --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" \
    "https://127.0.0.1:$APISERVER_PORT$1"
}
etcd_healthy() { curl -sf --max-time 2 "http://127.0.0.1:$ETCD_CLIENT_PORT/health" | grep -q '"health":"true"'; }
apiserver_ready() { [ "$(api /readyz 2>/dev/null)" = ok ]; }
default_sa_exists() { api /api/v1/namespaces/default/serviceaccounts/default >/dev/null 2>&1; }

all_alive() {
  local c
  for c in "${COMPONENTS[@]}"; do live_pid "$c" >/dev/null || return 1; done
  # A real node that was started must still run too.
  if [ -f "$state/real-node" ]; then
    for c in "${NODE_COMPONENTS[@]}"; do live_pid "$c" >/dev/null || return 1; done
  fi
}
running() { all_alive && apiserver_ready; }

# wait_for <seconds> <what> <command...>: polls the command; fails early if a component died.
wait_for() {
  local secs=$1 what=$2 deadline c
  shift 2
  deadline=$(( SECONDS + secs ))
  until "$@"; do
    for c in "${COMPONENTS[@]}"; do
      if [ -f "$(pidfile "$c")" ] && ! live_pid "$c" >/dev/null; then
        tail_log "$c"; die "$c exited while waiting for $what"
      fi
    done
    [ "$SECONDS" -lt "$deadline" ] || die "timed out after ${secs}s waiting for $what (logs: .cluster/logs/)"
    sleep 0.2
  done
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- PKI and kubeconfig ------------------------------------------------------------------------

make_pki() {
  mkdir -p "$pki"
  (
    cd "$pki"
    umask 077
    # Four RSA keys in parallel: CA, apiserver serving, admin client, ServiceAccount signing.
    for k in ca apiserver admin sa apiserver-kubelet-client; do openssl genrsa -out "$k.key" 2048 2>/dev/null & done
    wait
    cat >ca.ext <<EOF
basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier=hash
EOF
    cat >apiserver.ext <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.96.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
EOF
    cat >admin.ext <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
authorityKeyIdentifier=keyid
EOF
    # A self-signed CA, separate from the serving cert (webpki/rustls reject a CA as end entity).
    openssl req -new -key ca.key -subj "/CN=cutover-local-ca" -out ca.csr
    openssl x509 -req -in ca.csr -signkey ca.key -days 3650 -extfile ca.ext -out ca.crt 2>/dev/null
    openssl req -new -key apiserver.key -subj "/CN=kube-apiserver" -out apiserver.csr
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 \
      -extfile apiserver.ext -out apiserver.crt 2>/dev/null
    # O=system:masters: cluster-admin without RBAC bindings (used by the components and tests).
    openssl req -new -key admin.key -subj "/O=system:masters/CN=cutover-admin" -out admin.csr
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 \
      -extfile admin.ext -out admin.crt 2>/dev/null
    # kube-apiserver's client certificate for kubelets (logs, exec): the real node's kubelet
    # authorizes it by a SubjectAccessReview, which system:masters passes.
    openssl req -new -key apiserver-kubelet-client.key \
      -subj "/O=system:masters/CN=kube-apiserver-kubelet-client" -out apiserver-kubelet-client.csr
    openssl x509 -req -in apiserver-kubelet-client.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -days 365 -extfile admin.ext -out apiserver-kubelet-client.crt 2>/dev/null
    rm -f ./*.csr ./*.ext ca.srl
  )
}

write_kubeconfig() {
  local b64="base64 -w0"
  ( umask 077; cat >"$kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: cutover-local
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $($b64 <"$pki/ca.crt")
users:
- name: cutover-admin
  user:
    client-certificate-data: $($b64 <"$pki/admin.crt")
    client-key-data: $($b64 <"$pki/admin.key")
contexts:
- name: cutover-local
  context:
    cluster: cutover-local
    user: cutover-admin
current-context: cutover-local
EOF
  )
}

# --- module sources (kwok stages, Gateway API and Traefik CRDs) ---------------------------------

module_dir() { # module_dir <module> <version>
  local dir
  dir="$(go env GOMODCACHE)/$1@$2"
  if [ ! -d "$dir" ]; then
    (cd "${TMPDIR:-/tmp}" && GOFLAGS= go mod download "$1@$2") >&2 || die "cannot download $1@$2"
  fi
  echo "$dir"
}

# kwok has no built-in stages; kwokctl adds node-initialize, node-heartbeat(-with-lease),
# pod-ready, pod-complete and pod-delete. The chaos stages make labelled pods/nodes fail.
write_kwok_config() {
  local s f
  s="$(module_dir sigs.k8s.io/kwok "$KWOK_VERSION")/kustomize/stage"
  {
    for f in "$s/node/fast/node-initialize.yaml" \
             "$s/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" \
             "$s/pod/fast/pod-ready.yaml" "$s/pod/fast/pod-complete.yaml" "$s/pod/fast/pod-delete.yaml" \
             "$s"/pod/chaos/*.yaml "$s"/node/chaos/*.yaml "$root/hack/kwok/"*.yaml; do
      [ -f "$f" ] || die "kwok stage file missing: $f"
      echo "---"
      echo "# ${f##*/}"
      cat "$f"
    done
  } >"$state/kwok.yaml"
}

# --- network ------------------------------------------------------------------------------------

# kube-apiserver derives its advertise address (only written into the `kubernetes` Service's
# endpoints; nothing connects to it) from the default-route interface, and refuses to start
# without one ("Unable to find suitable network address"). Loopback is rejected, so without a
# default route pass the first global IPv4 address of the machine, and without any such address
# 192.0.2.1 (TEST-NET-1, RFC 5737: reserved for documentation, routed nowhere).
advertise_args() {
  local ip
  if awk 'NR > 1 && $2 == "00000000" { found = 1 } END { exit !found }' /proc/net/route 2>/dev/null; then
    return 0
  fi
  ip=$(ip -4 -o addr show scope global 2>/dev/null | awk '{ split($4, a, "/"); print a[1]; exit }') || true
  if [ -z "$ip" ]; then
    ip=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9.]+$' | grep -v '^127\.' | head -n1) || true
  fi
  echo "--advertise-address=${ip:-192.0.2.1}"
}

# --- the real node ------------------------------------------------------------------------------

# shellcheck source=hack/cluster-real-node.sh
. "$here/cluster-real-node.sh"

# --- subcommands -------------------------------------------------------------------------------

# One up/down at a time: an exclusive lock on the state directory itself (fd 9; the components
# are started with fd 9 closed so they do not hold it).
lock_state() {
  mkdir -p "$state"
  exec 9<"$state"
  flock -w 300 9 || die "another hack/cluster.sh up/down is still running"
}

up() {
  "$here/build-control-plane.sh"
  lock_state
  for b in "${COMPONENTS[@]}" kubectl; do
    [ "$b" = deployment-controller ] && continue  # a link to kube-controller-manager, made at start
    [ -x "$CP_BIN/$b" ] || die "$CP_BIN/$b is missing; run hack/build-control-plane.sh"
  done

  if [ -f "$kubeconfig" ] && running; then
    echo "cluster already running (https://127.0.0.1:$APISERVER_PORT)"
    echo "  export KUBECONFIG=$kubeconfig"
    return 0
  fi

  # Fresh start: stop whatever is left of an earlier run (by its recorded PIDs), keep its logs.
  if [ -d "$state" ]; then
    if ls "$state"/*.pid >/dev/null 2>&1; then
      echo "cluster not (fully) running; stopping what is left of it and starting afresh"
    fi
    stop_all
    if [ -d "$logs" ]; then rm -rf "$state/logs-last"; mv "$logs" "$state/logs-last"; fi
    find "$state" -mindepth 1 -maxdepth 1 ! -name logs-last ! -name operator.pid -exec rm -rf {} +
  fi
  local p
  for p in $ETCD_CLIENT_PORT $ETCD_PEER_PORT $APISERVER_PORT $KCM_PORT $DEPLOYMENT_CONTROLLER_PORT $SCHEDULER_PORT; do
    port_free "$p" || die "port 127.0.0.1:$p is already in use (ss -ltnp 'sport = :$p' shows by what)"
  done
  mkdir -p "$state" "$logs"

  up_ok=0
  trap '[ "$up_ok" = 1 ] || { echo "cluster: start failed; stopping what was started (logs: .cluster/logs/)" >&2; stop_all >&2; }' EXIT

  start etcd --name cutover --data-dir "$state/etcd" --unsafe-no-fsync --log-level warn \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "cutover=http://127.0.0.1:$ETCD_PEER_PORT"
  log "etcd started (pid $(cat "$(pidfile etcd)")); generating PKI"
  make_pki
  write_kubeconfig
  write_kwok_config
  wait_for 30 "etcd health" etcd_healthy

  start_apiserver

  # Client rate limits well above the defaults (20/s): with kwok's instant pods the controllers,
  # not their throttles, are what the tests and the benchmark exercise.
  start kube-controller-manager --kubeconfig="$kubeconfig" \
    --authentication-kubeconfig="$kubeconfig" --authorization-kubeconfig="$kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$KCM_PORT" --leader-elect=false \
    --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
    --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" \
    --controllers='*,-deployment-controller' --kube-api-qps=200 --kube-api-burst=400 --profiling=false
  start_deployment_controller
  start kube-scheduler --kubeconfig="$kubeconfig" \
    --authentication-kubeconfig="$kubeconfig" --authorization-kubeconfig="$kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" --leader-elect=false --profiling=false
  start kwok --kubeconfig="$kubeconfig" --config="$state/kwok.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-lease-duration-seconds=40 --cidr="$POD_CIDR"
  log "kube-controller-manager, kube-scheduler, kwok started; creating nodes and Gateway API CRDs"

  local n nodes_yaml=""
  for n in "${NODES[@]}"; do
    nodes_yaml+="---
apiVersion: v1
kind: Node
metadata:
  name: $n
  annotations:
    kwok.x-k8s.io/node: fake
  labels:
    kubernetes.io/hostname: $n
    kubernetes.io/os: linux
    type: kwok
"
  done
  # Gateway API standard channel: every config/crd/standard/gateway*.yaml, as upstream's
  # standard-install.yaml (the CRDs plus the safe-upgrades ValidatingAdmissionPolicy).
  local gw f crd_files=() all_files=()
  gw="$(module_dir sigs.k8s.io/gateway-api "$GATEWAY_API_VERSION")/config/crd/standard"
  for f in "$gw"/gateway*.yaml; do
    all_files+=(-f "$f")
    if grep -q '^kind: CustomResourceDefinition' "$f"; then crd_files+=(-f "$f"); fi
  done

  # Traefik's CRDs (traefik.io): a weighted Route's sticky sessions go through a TraefikService
  # on Traefik, the data plane of the Route e2e tests.
  local traefik_crds
  traefik_crds="$(module_dir github.com/traefik/traefik/v3 "$TRAEFIK_VERSION")/docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml"
  crd_files+=(-f "$traefik_crds")

  kc apply --server-side --field-manager=cluster.sh -f - <<<"$nodes_yaml" >/dev/null
  kc apply --server-side --field-manager=cluster.sh "${all_files[@]}" -f "$traefik_crds" >/dev/null
  kc wait --for=condition=Ready --timeout=60s "${NODES[@]/#/node/}" >/dev/null || { tail_log kwok; die "the nodes did not become Ready"; }
  log "nodes Ready: ${NODES[*]}"
  kc wait --for=condition=Established --timeout=60s "${crd_files[@]}" >/dev/null
  log "Gateway API $GATEWAY_API_VERSION and Traefik $TRAEFIK_VERSION CRDs Established"
  wait_for 60 "ServiceAccount default/default" default_sa_exists
  real_node_start
  up_ok=1
  trap - EXIT
  log "cluster up in $(elapsed)s (Kubernetes $K8S_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION)"
  echo "  export KUBECONFIG=$kubeconfig"
  echo "  (or use hack/kubectl; stop with hack/cluster.sh down)"
}

start_apiserver() {
  local adv
  adv=$(advertise_args)
  # Extra flags for profiling, e.g. an audit log of who makes which requests (BENCHMARKS.md).
  # PodNodeSelector and PodTolerationRestriction place a namespace's pods as an OpenShift
  # project's node selector does (annotations on the namespace; none, no effect): the demo's
  # namespace runs on the real node with OpenShift's example unchanged.
  # shellcheck disable=SC2086 # $adv is empty or one flag; CUTOVER_APISERVER_ARGS is split on purpose
  start kube-apiserver --etcd-servers="http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --bind-address=127.0.0.1 --secure-port="$APISERVER_PORT" $adv \
    --cert-dir="$state/apiserver" \
    --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" --authorization-mode=Node,RBAC --allow-privileged=true \
    --enable-admission-plugins=PodNodeSelector,PodTolerationRestriction \
    --kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$pki/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority="$pki/ca.crt" \
    --service-account-issuer=https://kubernetes.default.svc \
    --service-account-key-file="$pki/sa.key" --service-account-signing-key-file="$pki/sa.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" --profiling=false ${CUTOVER_APISERVER_ARGS:-}
  log "kube-apiserver started (pid $(cat "$(pidfile kube-apiserver)")${adv:+, $adv}); waiting for /readyz"
  wait_for 90 "kube-apiserver /readyz" apiserver_ready
}

# The Deployment controller alone, as its own identity (a ServiceAccount per controller, as in a
# production control plane): the benchmark counts its API requests by that user.
# CUTOVER_DEPLOYMENT_CONTROLLER_ARGS adds flags (the benchmark's
# --concurrent-deployment-syncs=16 matches cutover's default concurrency).
start_deployment_controller() {
  ln -f "$CP_BIN/kube-controller-manager" "$CP_BIN/deployment-controller"
  # shellcheck disable=SC2086 # split on purpose
  start deployment-controller --kubeconfig="$kubeconfig" \
    --authentication-kubeconfig="$kubeconfig" --authorization-kubeconfig="$kubeconfig" \
    --bind-address=127.0.0.1 --secure-port="$DEPLOYMENT_CONTROLLER_PORT" --leader-elect=false \
    --controllers=deployment-controller --use-service-account-credentials \
    --kube-api-qps=200 --kube-api-burst=400 --profiling=false ${CUTOVER_DEPLOYMENT_CONTROLLER_ARGS:-}
}

# restart <kube-apiserver|deployment-controller>: kill it (SIGKILL, by its recorded PID: a crash;
# kube-apiserver's graceful SIGTERM shutdown can wait minutes on open watches), if it runs, and
# start it again on the same state. The fault tests use it (every client must reconnect); the
# benchmark starts each workload with a fresh Deployment controller.
# stop deployment-controller: kill it and leave it stopped (the benchmark's DeploymentConfig side
# runs without it, so no idle controller watches the pods and ReplicaSets of the other side).
restart() {
  kill_one "${1:-}"
  case "$1" in
    kube-apiserver) start_apiserver ;;
    deployment-controller) start_deployment_controller ;;
  esac
}

stop_one() {
  [ "${1:-}" = deployment-controller ] || die "stop: only deployment-controller, not ${1:-nothing}"
  kill_one "$1"
}

kill_one() {
  local name=$1 pid n port
  case "$name" in
    kube-apiserver) port=$APISERVER_PORT ;;
    deployment-controller) port=$DEPLOYMENT_CONTROLLER_PORT ;;
    *) die "restart: kube-apiserver or deployment-controller, not ${name:-nothing}" ;;
  esac
  live_pid etcd >/dev/null || die "cluster not running"
  lock_state
  pid=$(live_pid "$name") || return 0
  kill -KILL "$pid"
  for (( n=0; n<100; n++ )); do live_pid "$name" >/dev/null || break; sleep 0.1; done
  live_pid "$name" >/dev/null && die "$name (pid $pid) still runs 10 s after SIGKILL"
  # A dying process drops its binary before its sockets: wait for the port itself.
  for (( n=0; n<100; n++ )); do port_free "$port" && break; sleep 0.1; done
  port_free "$port" || die "port $port still in use 10 s after killing $name"
  log "$name (pid $pid) killed"
}

down() {
  if [ ! -d "$state" ]; then
    echo "cluster not running (no .cluster/)"
    return 0
  fi
  lock_state
  stop_all
  if [ -d "$logs" ]; then rm -rf "$state/logs-last"; mv "$logs" "$state/logs-last"; fi
  # Keep the demo operator's PID file while that process lives (make cluster-down stops it first).
  local keep=()
  if [ -f "$state/operator.pid" ] && kill -0 "$(cat "$state/operator.pid")" 2>/dev/null; then
    echo "cluster: warning: the demo operator (pid $(cat "$state/operator.pid")) still runs; stop it with hack/demo.sh stop" >&2
    keep=(! -name operator.pid)
  fi
  find "$state" -mindepth 1 -maxdepth 1 ! -name logs-last "${keep[@]}" -exec rm -rf {} +
  echo "cluster stopped (logs of the last run: .cluster/logs-last/)"
}

status() {
  local c pid any=0 all=1 comps=("${COMPONENTS[@]}")
  [ -f "$state/real-node" ] && comps+=("${NODE_COMPONENTS[@]}")
  for c in "${comps[@]}"; do
    if pid=$(live_pid "$c"); then
      printf '  %-24s running (pid %s)\n' "$c" "$pid"; any=1
    else
      printf '  %-24s not running\n' "$c"; all=0
    fi
  done
  if [ "$all" = 1 ] && [ -f "$pki/admin.crt" ] && apiserver_ready; then
    echo "cluster running: https://127.0.0.1:$APISERVER_PORT (export KUBECONFIG=$kubeconfig)"
    if [ -f "$state/real-node.unavailable" ]; then echo "no real node: $(cat "$state/real-node.unavailable")"; fi
    return 0
  fi
  if [ "$any" = 1 ]; then
    echo "cluster partially running or not ready (hack/cluster.sh up restarts it; logs: .cluster/logs/)"
  else
    echo "cluster not running"
  fi
  return 1
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  restart) restart "${2:-}" ;;
  stop) stop_one "${2:-}" ;;
  *) echo "usage: $0 up|down|status|restart kube-apiserver|deployment-controller|stop deployment-controller" >&2; exit 2 ;;
esac
