# cutover — every install step lives here and in hack/. Two commands for a new machine:
#   make demo   the local cluster, the operator, and the OpenShift example rolling out
#   make test   every test: lint, unit, planner, and e2e against the local cluster
.DEFAULT_GOAL := help
SHELL := /bin/bash
CARGO ?= cargo
KUBECTL := hack/kubectl
export KUBECONFIG ?= $(CURDIR)/.cluster/kubeconfig

.PHONY: help build crds lint unit cluster cluster-down install-local e2e test demo demo-down install bench bench-fleet

help:
	@echo "make demo          start the local cluster, a registry and the operator; roll out examples/frontend.yaml, push an image, roll it out"
	@echo "make test          lint, unit tests, and e2e tests against the local cluster"
	@echo "make cluster       build (first time, ~10 min) and start the local control plane"
	@echo "make cluster-down  stop it (only the processes it started)"
	@echo "make demo-down     stop the demo's operator and registry"
	@echo "make crds          regenerate crds/ from the Rust types"
	@echo "make install       install cutover and kubectl-dc into ~/.cargo/bin"
	@echo "make bench         the planner alone, then cutover vs the Deployment controller (BENCHMARKS.md)"
	@echo "make bench-fleet   10,000 DeploymentConfigs vs 10,000 Deployments (about an hour)"

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
# The operator's image is built from this build for the real node (hack/operator-image.sh).
# Prometheus (built once, cached) gates the traffic-shift tests' steps on Traefik's metrics.
e2e: install-local build demo-down
	hack/build-registry.sh >/dev/null
	hack/operator-image.sh >/dev/null
	CUTOVER_TRAEFIK="$$(hack/build-traefik.sh)" CUTOVER_PROMETHEUS="$$(hack/build-prometheus.sh)" \
	  $(CARGO) test --test e2e -- --ignored --test-threads=4 --skip faults::
	$(CARGO) test --test e2e faults:: -- --ignored --test-threads=1
	$(CARGO) test --bench scale -- --smoke

test: lint unit e2e

demo: install-local build
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
# 5 idle minutes, a template change over 1,000 (CUTOVER_FLEET_SIZES, _IDLE, _CHANGE).
bench-fleet: install-local
	$(CARGO) bench --bench fleet
