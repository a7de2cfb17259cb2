# shellcheck shell=bash disable=SC2154 # off, state, logs, pki, ... are hack/cluster.sh's
# The local cluster's real node; sourced by hack/cluster.sh (its variables and helpers), not run.
#
# Beside the kwok nodes, one node where pods run as real processes: containerd (state under
# .cluster/node/, socket .cluster/containerd.sock) with runc and the CNI bridge plugin, and a
# kubelet of the control plane's version, built by hack/build-node.sh. Its images come from a
# registry of its own on 127.0.0.1 (TLS from the cluster CA, no authentication), built and pushed
# by hack/node-images.sh. Only pods that ask land on it: it is tainted and labelled
#   taint cutover.io/real-node=true:NoSchedule   label cutover.io/real-node=true
# so a pod needs the toleration and the nodeSelector. kwok leaves it alone: kwok manages only the
# nodes annotated kwok.x-k8s.io/node=fake.
#
# Every port it opens is on 127.0.0.1: the kubelet (KUBELET_PORT, healthz on KUBELET_HEALTHZ_PORT,
# no read-only port), the registry, containerd's streaming server (a random port). Pods get
# addresses on a bridge of their own (NODE_POD_CIDR, the bridge holding the first address): the
# host reaches them directly; they have no default route, no masquerade, and nothing forwards
# their packets anywhere else. Their one route off the bridge is to the API server, as
# in-cluster clients find it (the `kubernetes` Service, 10.96.0.1:443): a route for the Service
# range via the bridge, and one DNAT rule of this cluster's own (chain NODE_NAT_CHAIN, for
# packets from the bridge only) to 127.0.0.1:APISERVER_PORT, with route_localnet on the bridge
# so the kernel accepts a loopback destination from it. That is all a kube-proxy would do here;
# no socket listens anywhere but 127.0.0.1. On success `up` writes .cluster/real-node (what the tests need);
# where the node cannot start it writes the reason to .cluster/real-node.unavailable.

NODE_NAME=cutover-node
KUBELET_PORT=$((20250 + off))
KUBELET_HEALTHZ_PORT=$((20248 + off))
NODE_REGISTRY_PORT=$((20265 + off))
NODE_NET="10.88.$(( off % 256 ))"        # disjoint from SERVICE_CIDR and kwok's POD_CIDR
NODE_POD_CIDR="$NODE_NET.0/24"
NODE_BRIDGE="cutover$off"                # one bridge per cluster, so two clusters can run
NODE_NAT_CHAIN="CUTOVER-NODE-$off"
KUBERNETES_SERVICE_IP="${SERVICE_CIDR%.0/*}.1" # 10.96.0.1: the kubernetes Service (its certificate names it)
REAL_NODE_KEY=cutover.io/real-node
node_dir="$state/node"
containerd_sock="$state/containerd.sock"
unavailable_file="$state/real-node.unavailable"

crictl() { "$NODE_BIN/crictl" --runtime-endpoint "unix://$containerd_sock" --timeout 30s "$@"; }

# real_node_start: starts the real node, or says in one line why it cannot and goes on without.
# It runs in a subshell (errexit on) so that any failure lands here; what it started is stopped.
real_node_start() {
  local rc
  rm -f "$unavailable_file" "$state/real-node"
  set +e
  ( set -e; real_node_up )
  rc=$?
  set -e
  [ "$rc" = 0 ] && return 0
  [ -s "$unavailable_file" ] || echo "it did not start (exit $rc; logs: .cluster/logs/)" >"$unavailable_file"
  real_node_down >/dev/null 2>&1 || true
  echo "cluster: no real node: $(cat "$unavailable_file"); the kwok nodes alone" >&2
}

# node_unavailable <reason>: records why and fails the subshell.
node_unavailable() { echo "$*" >"$unavailable_file"; exit 1; }

# node_wait <seconds> <what> <command...>: polls the command; the node is unavailable if it
# times out or a started node component exits meanwhile (the reason names its log).
node_wait() {
  local secs=$1 what=$2 deadline c
  shift 2
  deadline=$(( SECONDS + secs ))
  until "$@" >/dev/null 2>&1; do
    for c in "${NODE_COMPONENTS[@]}"; do
      if [ -f "$(pidfile "$c")" ] && ! live_pid "$c" >/dev/null; then
        node_unavailable "$c exited while waiting for $what: $(tail -n 1 "$logs/$c.log" 2>/dev/null | cut -c1-300) (.cluster/logs/$c.log)"
      fi
    done
    [ "$SECONDS" -lt "$deadline" ] || node_unavailable "timed out after ${secs}s waiting for $what (.cluster/logs/)"
    sleep 0.2
  done
}

# The one check per requirement; the first unmet one is the reason.
real_node_preflight() {
  local c p
  [ "${CUTOVER_REAL_NODE:-1}" != 0 ] || node_unavailable "disabled by CUTOVER_REAL_NODE=0"
  [ "$(uname -s)" = Linux ] || node_unavailable "not Linux"
  [ "$(id -u)" = 0 ] || node_unavailable "not root (containerd, runc and the kubelet need root)"
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || grep -qw overlay /proc/filesystems \
    || node_unavailable "no overlayfs in this kernel (containerd's snapshotter)"
  command -v ip >/dev/null || node_unavailable "no ip command (iproute2) for the pods' bridge"
  command -v iptables >/dev/null || node_unavailable "no iptables for the pods' path to the API server"
  if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
    for c in cpu memory pids; do
      grep -qw "$c" /sys/fs/cgroup/cgroup.controllers 2>/dev/null || node_unavailable "cgroup v2 without the $c controller"
    done
  else
    for c in cpu cpuacct cpuset memory pids devices freezer; do
      if ! { [ -d "/sys/fs/cgroup/$c" ] && grep -qw "$c" /proc/self/cgroup; }; then
        node_unavailable "no cgroup v1 $c controller mounted at /sys/fs/cgroup/$c"
      fi
    done
  fi
  for p in $KUBELET_PORT $KUBELET_HEALTHZ_PORT $NODE_REGISTRY_PORT; do
    port_free "$p" || node_unavailable "port 127.0.0.1:$p is already in use"
  done
  ! ip link show "$NODE_BRIDGE" >/dev/null 2>&1 || node_unavailable "bridge $NODE_BRIDGE exists already (another cluster with CUTOVER_PORT_OFFSET=$off?)"
}

# The cgroup the pods go under (the kubelet's cgroupRoot): below this process's own cgroup (its
# memory cgroup in v1), so the pods stay inside whatever contains the cluster.
cgroup_hierarchies() {
  if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
    echo /sys/fs/cgroup
  else
    local d
    for d in /sys/fs/cgroup/*/; do
      d=${d%/}
      # The v1 hierarchies and, on a hybrid machine, the cgroup2 mount beside them: runc makes
      # each container's cgroup there too.
      case "$(stat -fc %T "$d" 2>/dev/null)" in cgroupfs|cgroup2fs) echo "$d" ;; esac
    done
  fi
}

make_cgroup_root() {
  local base h dir parent created="$node_dir/cgroups-created"
  if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
    base=$(sed -n 's/^0::\(.*\)$/\1/p' /proc/self/cgroup)
  else
    base=$(sed -n 's/^[0-9]*:memory:\(.*\)$/\1/p' /proc/self/cgroup)
  fi
  cgroup_root="${base%/}/cutover-node$off"
  echo "$cgroup_root" >"$node_dir/cgroup-root"
  : >"$created"
  for h in $(cgroup_hierarchies); do
    # mkdir -p by hand: record every directory made (removed at down), and give each new cpuset
    # its parent's CPUs and memory nodes (a v1 cpuset starts empty).
    dir="$h"
    local part
    for part in $(echo "${cgroup_root#/}" | tr '/' ' '); do
      parent="$dir"; dir="$dir/$part"
      [ -d "$dir" ] && continue
      mkdir "$dir" || node_unavailable "cannot create cgroup $dir"
      echo "$dir" >>"$created"
      if [ -f "$dir/cpuset.cpus" ]; then
        cat "$parent/cpuset.cpus" >"$dir/cpuset.cpus"
        cat "$parent/cpuset.mems" >"$dir/cpuset.mems"
      fi
    done
  done
  if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
    # v2: the kubelet needs the controllers enabled down to its root (untested on this machine).
    echo "+cpu +memory +pids" >"/sys/fs/cgroup${cgroup_root}/cgroup.subtree_control" 2>/dev/null || true
  fi
}

# make_node_pki: the kubelet's client certificate (system:node:NAME in system:nodes, what the Node
# authorizer expects) and its serving certificate for 127.0.0.1 (kube-apiserver checks it
# against the cluster CA before reading logs).
make_node_pki() {
  (
    cd "$pki"
    umask 077
    openssl genrsa -out kubelet-client.key 2048 2>/dev/null &
    openssl genrsa -out kubelet.key 2048 2>/dev/null &
    wait
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\nauthorityKeyIdentifier=keyid\n' >kc.ext
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nauthorityKeyIdentifier=keyid\nsubjectAltName=IP:127.0.0.1,DNS:localhost,DNS:%s\n' "$NODE_NAME" >ks.ext
    openssl req -new -key kubelet-client.key -subj "/O=system:nodes/CN=system:node:$NODE_NAME" -out kc.csr
    openssl x509 -req -in kc.csr -CA ca.crt -CAkey ca.key -CAcreateserial -CAserial node.srl -days 365 \
      -extfile kc.ext -out kubelet-client.crt 2>/dev/null
    openssl req -new -key kubelet.key -subj "/CN=system:node:$NODE_NAME" -out ks.csr
    openssl x509 -req -in ks.csr -CA ca.crt -CAkey ca.key -CAcreateserial -CAserial node.srl -days 365 \
      -extfile ks.ext -out kubelet.crt 2>/dev/null
    rm -f kc.csr ks.csr kc.ext ks.ext node.srl
  )
  local b64="base64 -w0"
  ( umask 077; cat >"$node_dir/kubelet.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: cutover-local
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $($b64 <"$pki/ca.crt")
users:
- name: kubelet
  user:
    client-certificate-data: $($b64 <"$pki/kubelet-client.crt")
    client-key-data: $($b64 <"$pki/kubelet-client.key")
contexts:
- name: kubelet
  context:
    cluster: cutover-local
    user: kubelet
current-context: kubelet
EOF
  )
}

write_containerd_config() {
  local registry="127.0.0.1:$NODE_REGISTRY_PORT"
  mkdir -p "$node_dir/certs.d/$registry" "$node_dir/cni/net.d"
  # The node's registry over TLS with the cluster CA (containerd's hosts.toml).
  cat >"$node_dir/certs.d/$registry/hosts.toml" <<EOF
server = "https://$registry"

[host."https://$registry"]
  capabilities = ["pull", "resolve"]
  ca = "$pki/ca.crt"
EOF
  # The pods' network: the bridge this script made (it holds the gateway address, so the plugin
  # neither assigns one nor turns on IP forwarding: isGateway false), host-local addresses, no
  # masquerade, no default route in the pod.
  cat >"$node_dir/cni/net.d/10-cutover.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "cutover",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$NODE_BRIDGE",
      "isGateway": false,
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$NODE_POD_CIDR", "rangeStart": "$NODE_NET.10", "rangeEnd": "$NODE_NET.250"}]],
        "routes": [{"dst": "$SERVICE_CIDR", "gw": "$NODE_NET.1"}],
        "dataDir": "$node_dir/cni/ipam"
      }
    }
  ]
}
EOF
  # Everything under .cluster/node: content, snapshots, runc's state, the pods' network
  # namespaces. No TCP listener but the CRI streaming server on 127.0.0.1; the plugins this node
  # does not use are off (NRI would open a socket under /var/run/nri, tracing would export).
  cat >"$node_dir/containerd.toml" <<EOF
version = 3
root = "$node_dir/containerd/root"
state = "$node_dir/containerd/state"
disabled_plugins = [
  "io.containerd.nri.v1.nri",
  "io.containerd.internal.v1.opt",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
  "io.containerd.snapshotter.v1.blockfile",
  "io.containerd.snapshotter.v1.erofs",
  "io.containerd.snapshotter.v1.native",
]

[grpc]
  address = "$containerd_sock"

[ttrpc]
  address = "$containerd_sock.ttrpc"

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "$registry/cutover/pause:1"
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = "$node_dir/certs.d"

[plugins.'io.containerd.cri.v1.runtime']
  # No pod below containerd's own oom_score_adj: lowering it needs CAP_SYS_RESOURCE, which a
  # sandboxed root may lack (runc then fails: "can't get final child's PID from pipe: EOF").
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  cdi_spec_dirs = []
  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
    BinaryName = "$NODE_BIN/runc"
    Root = "$node_dir/runc"
    SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["$NODE_BIN/cni"]
    conf_dir = "$node_dir/cni/net.d"

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
EOF
}

write_kubelet_config() {
  cat >"$node_dir/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# Every port on 127.0.0.1; no read-only port.
address: 127.0.0.1
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $KUBELET_HEALTHZ_PORT
tlsCertFile: $pki/kubelet.crt
tlsPrivateKeyFile: $pki/kubelet.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix://$containerd_sock
imageServiceEndpoint: unix://$containerd_sock
# cgroup v1 controllers (with a cgroup2 mount beside them on hybrid machines): Kubernetes >= 1.35
# refuses v1 unless failCgroupV1 is false. cgroupfs, not systemd: no systemd runs the cluster.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: $cgroup_root
cgroupsPerQOS: true
enforceNodeAllocatable: [pods]
failSwapOn: false
# The kubelet must not touch the host's firewall.
makeIPTablesUtilChains: false
podLogsDir: $node_dir/pod-logs
# No cluster DNS; pods get an empty resolv.conf rather than the host's.
resolvConf: ""
maxPods: 32
serializeImagePulls: false
registerWithTaints:
- {key: $REAL_NODE_KEY, value: "true", effect: NoSchedule}
# The machine's disk is shared with everything else: evict only when it is really full.
evictionHard: {memory.available: 100Mi, nodefs.available: 2%, imagefs.available: 2%, nodefs.inodesFree: 2%}
imageGCHighThresholdPercent: 95
imageGCLowThresholdPercent: 90
EOF
}

node_registered() { kc get node "$NODE_NAME" >/dev/null 2>&1; }
node_ready() {
  [ "$(kc get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

real_node_up() {
  real_node_preflight
  NODE_BIN=$("$here/build-node.sh") || node_unavailable "hack/build-node.sh failed"
  mkdir -p "$node_dir"
  make_cgroup_root

  # The node's registry: the CNCF distribution registry linked under a name of its own (PID
  # checks go by the binary's name, and the demo runs a `registry` too).
  local reg_bin
  reg_bin=$("$here/registry-config.sh" "$node_dir/registry" "$NODE_REGISTRY_PORT" - </dev/null) \
    || node_unavailable "hack/registry-config.sh failed"
  ln -f "$reg_bin" "$NODE_BIN/node-registry"
  start node-registry serve "$node_dir/registry/config.yml"

  make_node_pki
  # The pods' bridge, made here (not by the CNI plugin) so that it holds the gateway address
  # and the host has a route to the pods without IP forwarding.
  ip link add "$NODE_BRIDGE" type bridge || node_unavailable "cannot create bridge $NODE_BRIDGE (ip link add)"
  ip addr add "$NODE_NET.1/24" dev "$NODE_BRIDGE"
  ip link set "$NODE_BRIDGE" up
  api_path_up

  write_containerd_config
  # A few paths the kubelet, containerd and libcni fix: made here when missing, and removed
  # at down (when empty: a second cluster's real node shares them).
  local d
  : >"$node_dir/host-dirs-created"
  for d in /run/containerd /var/lib/cni /var/lib/kubelet /var/log/containers; do
    [ -e "$d" ] || echo "$d" >>"$node_dir/host-dirs-created"
  done
  PATH="$NODE_BIN:$PATH" start containerd --config "$node_dir/containerd.toml"
  node_wait 30 "containerd's CRI" crictl info
  node_wait 30 "the node registry" port_in_use "$NODE_REGISTRY_PORT"
  "$here/node-images.sh" "127.0.0.1:$NODE_REGISTRY_PORT" "$NODE_BIN" "$node_dir/images" >&2 \
    || node_unavailable "hack/node-images.sh failed"

  write_kubelet_config
  # --cloud-provider=external: the kubelet leaves the node's addresses to whoever sets them
  # (here, below) instead of refusing 127.0.0.1 ("nodeIP can't be loopback address").
  start kubelet --config="$node_dir/kubelet.yaml" --kubeconfig="$node_dir/kubelet.kubeconfig" \
    --root-dir="$node_dir/kubelet" --cert-dir="$node_dir/kubelet/pki" \
    --hostname-override="$NODE_NAME" --cloud-provider=external \
    --node-labels="$REAL_NODE_KEY=true,type=real" --v=2
  log "containerd and kubelet started (pids $(cat "$(pidfile containerd)"), $(cat "$(pidfile kubelet)")); waiting for node $NODE_NAME"
  node_wait 60 "node $NODE_NAME to register" node_registered
  # What a cloud controller would do: the address kube-apiserver reaches the kubelet at (logs,
  # exec), then the node is initialized.
  kc patch node "$NODE_NAME" --subresource=status --type=merge \
    -p '{"status":{"addresses":[{"type":"InternalIP","address":"127.0.0.1"}]}}' >/dev/null
  kc taint node "$NODE_NAME" node.cloudprovider.kubernetes.io/uninitialized- >/dev/null 2>&1 || true
  node_wait 90 "node $NODE_NAME Ready" node_ready
  cat >"$state/real-node" <<EOF
node=$NODE_NAME
registry=127.0.0.1:$NODE_REGISTRY_PORT
pod_cidr=$NODE_POD_CIDR
label=$REAL_NODE_KEY=true
taint=$REAL_NODE_KEY=true:NoSchedule
EOF
  log "real node $NODE_NAME Ready (pods on $NODE_POD_CIDR, images from 127.0.0.1:$NODE_REGISTRY_PORT)"
}

port_in_use() { ! port_free "$1"; }

# api_path_up / api_path_down: the pods' way to the API server (see the top of this file).
api_path_up() {
  sysctl -qw "net.ipv4.conf.$NODE_BRIDGE.route_localnet=1" \
    || node_unavailable "cannot set route_localnet on $NODE_BRIDGE (the pods' path to the API server)"
  iptables -t nat -N "$NODE_NAT_CHAIN" 2>/dev/null || iptables -t nat -F "$NODE_NAT_CHAIN" \
    || node_unavailable "iptables: cannot make the nat chain $NODE_NAT_CHAIN (no NAT in this kernel?)"
  iptables -t nat -A "$NODE_NAT_CHAIN" -d "$KUBERNETES_SERVICE_IP/32" -p tcp --dport 443 \
    -j DNAT --to-destination "127.0.0.1:$APISERVER_PORT"
  iptables -t nat -C PREROUTING -i "$NODE_BRIDGE" -j "$NODE_NAT_CHAIN" 2>/dev/null \
    || iptables -t nat -A PREROUTING -i "$NODE_BRIDGE" -j "$NODE_NAT_CHAIN"
}

api_path_down() {
  command -v iptables >/dev/null || return 0
  while iptables -t nat -D PREROUTING -i "$NODE_BRIDGE" -j "$NODE_NAT_CHAIN" 2>/dev/null; do :; done
  iptables -t nat -F "$NODE_NAT_CHAIN" 2>/dev/null || true
  iptables -t nat -X "$NODE_NAT_CHAIN" 2>/dev/null || true
}

# real_node_down: the node's pods (through the CRI: their network is torn down and their
# addresses released), the kubelet, containerd, the registry; then what is left of them: shims
# of this containerd, processes in the pods' cgroups, mounts under .cluster/node, the bridge,
# the cgroups this script made.
real_node_down() {
  local pid f h cg
  [ -d "$node_dir" ] || [ -f "$(pidfile kubelet)" ] || [ -f "$(pidfile containerd)" ] || return 0
  stop_component kubelet
  if live_pid containerd >/dev/null && [ -x "$NODE_BIN/crictl" ]; then
    crictl rmp --all --force >/dev/null 2>&1 || echo "cluster: crictl rmp failed; removing the node's leftovers" >&2
  fi
  stop_component containerd
  # Shims outlive containerd; these are this cluster's (their -address is its socket).
  for f in /proc/[0-9]*/cmdline; do
    pid=${f#/proc/}; pid=${pid%/cmdline}
    [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$NODE_BIN/containerd-shim-runc-v2" ] || continue
    tr '\0' ' ' <"$f" 2>/dev/null | grep -qF -- "-address $containerd_sock " || continue
    kill -KILL "$pid" 2>/dev/null && echo "killed containerd-shim-runc-v2 (pid $pid)"
  done
  stop_component node-registry
  if [ -f "$node_dir/cgroup-root" ]; then
    cg=$(cat "$node_dir/cgroup-root")
    for h in $(cgroup_hierarchies); do
      [ -d "$h$cg" ] || continue
      # Processes still in the pods' cgroups (only if containerd died with pods running).
      find "$h$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r pid; do
        kill -KILL "$pid" 2>/dev/null && echo "killed pod process $pid"
      done
    done
  fi
  # Mounts under .cluster/node (secret volumes, overlay rootfs, network namespaces), deepest first.
  awk -v d="$node_dir/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r f; do
    umount "$f" 2>/dev/null || umount -l "$f" 2>/dev/null || echo "cluster: cannot unmount $f" >&2
  done
  api_path_down
  if ip link show "$NODE_BRIDGE" >/dev/null 2>&1; then ip link del "$NODE_BRIDGE"; fi
  if [ -f "$node_dir/cgroups-created" ]; then
    sort -r "$node_dir/cgroups-created" | while read -r cg; do
      [ -d "$cg" ] || continue
      find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || echo "cluster: cannot remove cgroup $cg" >&2
    done
  fi
  # The kubelet links every container's log into /var/log/containers (a fixed path).
  if [ -d /var/log/containers ]; then find /var/log/containers -maxdepth 1 -lname "$node_dir/*" -delete; fi
  if [ -f "$node_dir/host-dirs-created" ]; then
    while read -r f; do
      # The device-plugin socket is the kubelet's (its path is fixed; no device plugin is used).
      if [ "$f" = /var/lib/kubelet ]; then rm -f /var/lib/kubelet/device-plugins/kubelet.sock; fi
      if [ -d "$f" ]; then find "$f" -depth -type d -empty -delete; fi
    done <"$node_dir/host-dirs-created"
  fi
  rm -f "$state/real-node"
}
