# dialpay. Newcomers type two commands: `make run` and `make test`.
SHELL := /bin/bash
BIN := node_modules/.bin
NODE ?= node
CONFIG ?= $(if $(wildcard dialpay.yaml),dialpay.yaml,dialpay.example.yaml)

PROTO_SRC := $(wildcard proto/dialpay/v1/*.proto)
PROTO_GEN := proto/gen/dialpay.js proto/gen/dialpay.d.ts
# The product: what `make build` compiles and the image ships. The benchmarks and drills in load-tests/ are
# tools, compiled apart (`make tools`) for `make bench` and `make chaos`.
TS_SRC := $(shell find proto runtime gateway services cli operator-sim -name '*.ts' -not -path '*/gen/*' 2>/dev/null)
TOOLS_SRC := $(shell find load-tests -name '*.ts' 2>/dev/null)
SQL_SRC := $(shell find runtime services -name '*.sql' 2>/dev/null)

.PHONY: setup build tools proto lint format test run phone bench bench-quick chaos clean

# Idempotent: system packages when missing, then npm ci when the lock file changed.
setup: node_modules/.installed
	@bash deploy/setup-debian.sh

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || bash deploy/setup-debian.sh
	# npm ci refuses this lock file: the registry mirror lacks some of buf's other-platform binaries, so npm
	# install (which honours the lock) is used instead.
	npm install --no-audit --no-fund
	@touch $@

proto: $(PROTO_GEN)

$(PROTO_GEN): $(PROTO_SRC) node_modules/.installed
	@mkdir -p proto/gen
	$(BIN)/pbjs -t static-module -w es6 --force-long --no-verify -p proto -o proto/gen/dialpay.js $(PROTO_SRC)
	$(BIN)/pbts -o proto/gen/dialpay.d.ts proto/gen/dialpay.js

build: dist/.built

dist/.built: $(PROTO_GEN) $(TS_SRC) $(SQL_SRC) tsconfig.json tsconfig.build.json
	$(BIN)/tsc -p tsconfig.build.json
	@mkdir -p dist/proto/gen && cp proto/gen/dialpay.js dist/proto/gen/
	@for f in $(SQL_SRC); do mkdir -p dist/$$(dirname $$f); cp $$f dist/$$f; done
	@touch $@

# The product and load-tests/ into dist/ (dist/load-tests/...), for the benchmarks and drills.
tools: dist/.tools-built

dist/.tools-built: dist/.built $(TOOLS_SRC) tsconfig.tools.json
	$(BIN)/tsc -p tsconfig.tools.json
	@touch $@

# The house rules (eslint.config.js, ARCHITECTURE.md's House rules): boundaries, no cycles, no `as never`, no
# floating promises, 140 columns, functions of 70 lines and files of 400 in product code, one layout.
lint: $(PROTO_GEN)
	$(BIN)/tsc --noEmit -p tsconfig.json
	$(BIN)/buf lint proto
	$(BIN)/eslint --max-warnings 0 --cache --cache-location node_modules/.cache/eslint/ .

# The layout rules of eslint.config.js (@stylistic), applied in place. Line length and function size are not
# fixed for you: split what the lint names.
format: $(PROTO_GEN)
	$(BIN)/eslint --fix --cache --cache-location node_modules/.cache/eslint .

test: setup build lint
	$(BIN)/vitest run

run: setup build
	@# The example config keeps only a hash of orange-sn's bind password; the simulated aggregator needs the password itself.
	DIALPAY_SIM_PEER_PASSWORDS=$${DIALPAY_SIM_PEER_PASSWORDS:-orange-sn=secret2} $(NODE) dist/cli/dialpay.js dev --config $(CONFIG)

# A phone in this terminal, attached to the simulated operator of a running `make run`.
MSISDN ?= +254700000123
phone: build
	$(NODE) dist/cli/dialpay.js phone $(MSISDN)

# Each benchmark writes load-tests/results/<bench>.json and rebuilds the table in load-tests/results/README.md
# (BENCH_RESULTS_DIR elsewhere). Full mode, for the record: several runs each, medians. Every benchmark runs even
# when one fails its checks; the target fails at the end. BENCHES=ussd (say) runs only that one.
BENCH_MODE ?= full
BENCHES ?= foundation smpp/inbound ledger payments replication ussd reconcile

bench: setup tools
	@failed=''; for b in $(BENCHES); do \
	  echo "== $$b ($(BENCH_MODE))"; \
	  BENCH_MODE=$(BENCH_MODE) $(NODE) dist/load-tests/$$b.bench.js || failed="$$failed $$b"; \
	done; \
	if [ -n "$$failed" ]; then echo "benchmarks that failed:$$failed" >&2; exit 1; fi

# For development: one short run of each, well under a minute apiece.
bench-quick:
	$(MAKE) bench BENCH_MODE=quick

# Fault drills under steady payment load (NATS and PostgreSQL restarts, SMPP link drop, operator throttling, SIGKILL
# of each component), then on the production shape (3 NATS nodes, R3, a PostgreSQL standby, two of each component:
# a stream leader killed, a node partitioned, replicas killed, a long SMSC outage, the primary lost and the standby
# promoted); writes load-tests/results/chaos.json and chaos-cluster.json and fails when an invariant does.
# CHAOS_MODE=quick is shorter; CHAOS_SHAPE=single or cluster runs one of the two.
chaos: setup tools
	if [ "$(CHAOS_SHAPE)" != cluster ]; then CHAOS_SHAPE=single $(NODE) dist/load-tests/chaos/drills.js; fi
	if [ "$(CHAOS_SHAPE)" != single ]; then CHAOS_SHAPE=cluster $(NODE) dist/load-tests/chaos/drills.js; fi

clean:
	rm -rf dist proto/gen node_modules .data
