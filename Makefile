# vmdr — VMware DR operator. `make test` and `make demo` work on a fresh machine: they install the
# npm dependencies and build the Go test binaries they need (cached outside the repo, see
# hack/ensure-tool.sh), then run.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Every target runs on a supported Node.js LTS (24 or 26): the machine's own when it is one, else the
# pinned official binary that hack/ensure-node.sh installs from the npm registry into the tool cache.
ifneq ($(filter-out help clean,$(or $(MAKECMDGOALS),help)),)
NODE_DIR := $(shell hack/ensure-node.sh)
ifeq ($(NODE_DIR),)
$(error no supported Node.js (24 or 26) and hack/ensure-node.sh could not install one; see the message above)
endif
export PATH := $(NODE_DIR):$(PATH)
endif
# node_modules is reinstalled when the lockfile or the Node.js version changes.
NODE_STAMP := node_modules/.installed-$(if $(NODE_DIR),$(shell $(NODE_DIR)/node --version),none)

.PHONY: help
help: ## Show the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(NODE_STAMP): package.json package-lock.json
	@echo "node $$(node --version) from $$(dirname $$(command -v node))"
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

.PHONY: deps
deps: $(NODE_STAMP) ## Install npm dependencies (npm ci) when package-lock.json changed

.PHONY: build
build: deps ## Type-check and compile to dist/
	npx tsc -p tsconfig.json

.PHONY: lint
lint: deps ## ESLint (type-aware)
	npx eslint --max-warnings=0 .

.PHONY: crds
crds: build ## Regenerate crds/ from the schemas in src/api
	node dist/hack/gen-crds.js crds

.PHONY: verify-crds
verify-crds: build ## Fail when crds/ drifted from src/api
	node dist/hack/gen-crds.js --verify crds

.PHONY: prometheus-rule
prometheus-rule: build ## Regenerate deploy/prometheus/prometheusrule.yaml from rules.yaml
	node dist/hack/gen-prometheus-rule.js

.PHONY: test-rules
test-rules: build ## promtool checks and unit tests of the alert rules; the PrometheusRule must match them
	node dist/hack/gen-prometheus-rule.js --verify
	cd deploy/prometheus && $$(../../hack/ensure-tool.sh promtool) check rules rules.yaml && $$(../../hack/ensure-tool.sh promtool) test rules tests.yaml

# The Go-built tools. Each is built once per machine and pin (hack/ensure-tool.sh), printing one
# line with its expected duration; afterwards these targets cost nothing.
DEMO_TOOLS := etcd kube-apiserver lab
TEST_TOOLS := $(DEMO_TOOLS) kubectl promtool

.PHONY: tools demo-tools
tools: ## Build (once, cached) etcd, kube-apiserver, kubectl, the lab and promtool from Go modules
	@for t in $(TEST_TOOLS); do hack/ensure-tool.sh $$t >/dev/null; done
demo-tools: # only what the demo runs
	@for t in $(DEMO_TOOLS); do hack/ensure-tool.sh $$t >/dev/null; done

# Debian packages the integration tier needs: BIND's named and dig, for the DNS update tests
# (test/integration/dns-bind.test.ts); headless Chromium, which loads the HTML report
# (test/integration/report-browser.test.ts). Installed with apt-get when missing; instant when present.
TEST_DEBS := bind9 bind9-dnsutils chromium-headless-shell

.PHONY: debs
debs: ## Install the Debian packages the integration tests need (bind9, bind9-dnsutils, chromium-headless-shell) when missing
	@hack/ensure-deb.sh $(TEST_DEBS)

.PHONY: test-unit
test-unit: build
	npx vitest run --project unit

.PHONY: test-integration
test-integration: build tools debs
	VMDR_ETCD=$$(hack/ensure-tool.sh etcd) VMDR_KUBE_APISERVER=$$(hack/ensure-tool.sh kube-apiserver) VMDR_LAB=$$(hack/ensure-tool.sh lab) \
	  VMDR_KUBECTL=$$(hack/ensure-tool.sh kubectl) VMDR_PROMTOOL=$$(hack/ensure-tool.sh promtool) npx vitest run --project integration

.PHONY: demo
demo: build demo-tools ## The operator's main job on the built-in two-site lab, with live output (Ctrl-C stops)
	VMDR_ETCD=$$(hack/ensure-tool.sh etcd) VMDR_KUBE_APISERVER=$$(hack/ensure-tool.sh kube-apiserver) VMDR_LAB=$$(hack/ensure-tool.sh lab) \
	  node dist/hack/demo.js

.PHONY: demo-journey
demo-journey: build demo-tools ## The demo, then Finance's planned migration, failback and reprotect (deploy/samples/runs), live
	VMDR_ETCD=$$(hack/ensure-tool.sh etcd) VMDR_KUBE_APISERVER=$$(hack/ensure-tool.sh kube-apiserver) VMDR_LAB=$$(hack/ensure-tool.sh lab) \
	  node dist/hack/demo.js --journey

.PHONY: test-demo
test-demo: build demo-tools ## The demo's short mode with the journey: fails unless the DR test and its cleanup, a new VM's shadow, and Finance's migration, failback and reprotect all succeed
	VMDR_ETCD=$$(hack/ensure-tool.sh etcd) VMDR_KUBE_APISERVER=$$(hack/ensure-tool.sh kube-apiserver) VMDR_LAB=$$(hack/ensure-tool.sh lab) \
	  node dist/hack/demo.js --short --journey

.PHONY: test-lab
test-lab: ## Go tests of the two-site lab (hack/lab)
	cd hack/lab && go vet ./... && go test -count=1 ./...

.PHONY: test-contract-py
test-contract-py: ## The lab against the vendors' SDKs (pyVmomi, netapp-ontap; pinned, in a cached venv)
	VMDR_LAB=$$(hack/ensure-tool.sh lab) test/contract-py/run.sh

.PHONY: test
test: lint verify-crds test-rules test-unit test-integration test-lab test-contract-py test-demo ## Everything CI runs: lint, CRD drift, alert rules, unit, integration (real kube-apiserver + lab), lab, SDK contract

.PHONY: bench
bench: build tools ## Benchmarks (print numbers; never part of test)
	node dist/test/bench/workqueue.js
	VMDR_LAB=$$(hack/ensure-tool.sh lab) node --expose-gc --max-old-space-size=192 dist/test/bench/clients.js
	VMDR_LAB=$$(hack/ensure-tool.sh lab) node dist/test/bench/replication.js
	VMDR_ETCD=$$(hack/ensure-tool.sh etcd) VMDR_KUBE_APISERVER=$$(hack/ensure-tool.sh kube-apiserver) VMDR_LAB=$$(hack/ensure-tool.sh lab) node dist/test/bench/shadow.js
	VMDR_ETCD=$$(hack/ensure-tool.sh etcd) VMDR_KUBE_APISERVER=$$(hack/ensure-tool.sh kube-apiserver) VMDR_LAB=$$(hack/ensure-tool.sh lab) node dist/test/bench/failover.js
	VMDR_ETCD=$$(hack/ensure-tool.sh etcd) VMDR_KUBE_APISERVER=$$(hack/ensure-tool.sh kube-apiserver) VMDR_LAB=$$(hack/ensure-tool.sh lab) node dist/test/bench/disruptive.js

.PHONY: clean
clean: ## Remove build output (the tool cache in ~/.cache/vmdr stays)
	rm -rf dist
