# Pinned versions of the local control plane. Changing one rebuilds into a new cache key.
# Sourced by hack/*.sh.
K8S_VERSION=v1.37.2          # kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
ETCD_VERSION=v3.6.16         # the 3.6 line is what kubeadm ships for recent Kubernetes
KWOK_VERSION=v0.8.0          # simulated nodes: pods go Running/Ready, Job pods Succeed
GATEWAY_API_VERSION=v1.6.3   # Gateway API CRDs (standard channel), read from the module

CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/cutover/control-plane"
CP_KEY="k8s-${K8S_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}_$(go env GOVERSION 2>/dev/null || echo nogo)"
CP_BIN="$CACHE_ROOT/$CP_KEY/bin"
TRAEFIK_VERSION=v3.6.12      # Gateway API data plane for the Route e2e tests (newer lines need modules the proxy refuses)
PROMETHEUS_VERSION=v0.316.0   # Prometheus 3.16.0 (its Go module numbers 3.X.Y as v0.3XX.Y), a real scraper and PromQL engine
HELM_VERSION=v3.22.0          # renders deploy/helm/cutover in the chart test
REGISTRY_VERSION=v3.1.2      # CNCF distribution registry for the image e2e tests and demo
CONTAINERD_VERSION=v2.4.2    # the real node's CRI runtime (containerd 2.x from its Go module)
CRI_TOOLS_VERSION=v1.37.0    # crictl: removes the real node's pods when the cluster stops

# The real node (hack/build-node.sh): kubelet of K8S_VERSION, containerd, a pause binary; runc and
# the CNI plugins are Debian's packages, linked in. Keyed like the control plane.
NODE_KEY="k8s-${K8S_VERSION}_containerd-${CONTAINERD_VERSION}_crictl-${CRI_TOOLS_VERSION}_$(go env GOVERSION 2>/dev/null || echo nogo)"
NODE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/cutover/node/$NODE_KEY"
NODE_BIN="$NODE_ROOT/bin"

# build_lock NAME: one build of NAME at a time. `make test` and `make demo` build the Go tools in
# a job of their own beside the Rust build (hack/build-tools.sh); a caller that needs a tool
# meanwhile waits here for that build and then finds it in the cache.
build_lock() {
  local dir="${XDG_CACHE_HOME:-$HOME/.cache}/cutover/locks"
  mkdir -p "$dir"
  exec {BUILD_LOCK_FD}>"$dir/$1.lock"
  flock "$BUILD_LOCK_FD"
}
