# cutover — every install step lives here and in hack/. Two commands for a new machine:
#   make demo   the local cluster, the operator, and the OpenShift example rolling out
#   make test   every test: lint, unit, planner, and e2e against the local cluster
.DEFAULT_GOAL := help
SHELL := /bin/bash
CARGO ?= cargo
KUBECTL := hack/kubectl
export KUBECONFIG ?= $(CURDIR)/.cluster/kubeconfig

.PHONY: help build crds lint unit cluster cluster-down install-local e2e test tools-for-test test-steps \
	demo tools-for-demo demo-steps demo-down install bench bench-fleet

help:
	@echo "make demo          start the local cluster, a registry and the operator; roll out examples/frontend.yaml, push an image, roll it out"
	@echo "make test          lint, unit tests, and e2e tests against the local cluster"
	@echo "make cluster       build (first time, ~10 min) and start the local control plane"
	@echo "make cluster-down  stop it (only the processes it started)"
	@echo "make demo-down     stop the demo's operator and registry"
	@echo "make crds          regenerate crds/ from the Rust types"
	@echo "make install       install cutover and kubectl-dc into ~/.cargo/bin"
	@echo "make bench         the planner alone, then cutover vs the Deployment controller (BENCHMARKS.md)"
	@echo "make bench-fleet   10,000 DeploymentConfigs vs 10,000 Deployments, then 30,000 over three shards (hours)"

build:
	$(CARGO) build --bins

crds: build
	target/debug/cutover crd --dir crds
	target/debug/cutover crd --dir deploy/helm/cutover/crds

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	python3 hack/import-cycles.py

# The chart tests render deploy/helm/cutover with a real helm (built once, cached).
unit:
	$(CARGO) test --lib --bins --tests
	$(CARGO) test --bench planner -- --smoke
	CUTOVER_HELM="$$(hack/build-helm.sh)" $(CARGO) test --test helm_chart -- --ignored

cluster:
	hack/cluster.sh up

cluster-down: demo-down
	hack/cluster.sh down

install-local: cluster
	hack/install-local.sh

# The demo's operator watches every namespace: stopped first, so only the tests' operators act.
# Traefik carries real traffic through Routes in the data-plane tests (built once, cached).
# The fault tests (leader killed, API server restarted) run last and alone.
# The image tests run registries of their own (the CNCF distribution registry, built once, cached).
# The operator's image is built for the real node (hack/operator-image.sh) from the binaries the
# tests themselves use (built with the tests' features, so not built a second time).
# Prometheus (built once, cached) gates the traffic-shift tests' steps on Traefik's metrics.
# The upgrade test starts from the previous release's operator (hack/build-release.sh, cached;
# built here, while the tool job still builds Traefik and Prometheus).
e2e: install-local
	@hack/demo.sh stop
	hack/build-registry.sh >/dev/null
	hack/build-release.sh >/dev/null
	$(CARGO) test --test e2e --no-run
	hack/operator-image.sh >/dev/null
	CUTOVER_TRAEFIK="$$(hack/build-traefik.sh)" CUTOVER_PROMETHEUS="$$(hack/build-prometheus.sh)" \
	  CUTOVER_PREVIOUS_RELEASE="$$(hack/build-release.sh)" \
	  $(CARGO) test --test e2e -- --ignored --test-threads=4 --skip faults:: --skip ::alone_
	$(CARGO) test --test e2e -- --ignored --test-threads=1 faults:: ::alone_
	$(CARGO) test --bench scale -- --smoke

# Cold, most of the time goes to Go builds (the control plane, the node, Traefik...). They run
# as a second job (hack/build-tools.sh) beside the steps, which wait for a tool where they use it.
test:
	@$(MAKE) --no-print-directory -j2 tools-for-test test-steps

tools-for-test:
	@hack/build-tools.sh control-plane node registry helm traefik prometheus release

test-steps:
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory e2e

# The demo needs neither Prometheus nor Helm.
demo:
	@$(MAKE) --no-print-directory -j2 tools-for-demo demo-steps

tools-for-demo:
	@hack/build-tools.sh control-plane node registry traefik

demo-steps:
	@$(MAKE) --no-print-directory build
	@$(MAKE) --no-print-directory install-local
	hack/demo.sh

demo-down:
	@hack/demo.sh stop

install:
	$(CARGO) install --locked --path .

# The planner alone (no cluster), then cutover next to the Deployment controller on the local
# cluster (BENCHMARKS.md); sizes with CUTOVER_BENCH_SIZES=OBJECTSxREPLICAS,...
bench: install-local
	$(CARGO) bench --bench planner
	$(CARGO) bench --bench scale

# A fleet: 10,000 DeploymentConfigs next to 10,000 Deployments, each side alone: first rollouts,
# 5 idle minutes, a template change over 1,000 (CUTOVER_FLEET_SIZES, _IDLE, _CHANGE). Then
# 30,000 DeploymentConfigs over three shards against one operator: memory and reconcile times
# per shard, a template change over 3,000, a shard leader's takeover (CUTOVER_SHARDS_SIZE,
# _CHANGE, _TAKEOVER). Then an upgrade from the previous release over 1,000 DeploymentConfigs
# (CUTOVER_UPGRADE_SIZE).
bench-fleet: install-local
	$(CARGO) bench --bench fleet
	$(CARGO) bench --bench shards
	CUTOVER_PREVIOUS_RELEASE="$$(hack/build-release.sh)" $(CARGO) bench --bench upgrade
