# Pressline's two commands: `make dev` runs the whole pipeline on embedded
# servers, `make test` runs every test. Tools the tests need are installed
# into $(CACHE) (outside the repository) the first time; libvips comes from
# Debian (`make deps`, as root).
CACHE ?= $(or $(PRESSLINE_CACHE),$(HOME)/.cache/pressline)
BIN := $(CACHE)/bin
export PATH := $(BIN):$(PATH)
export PRESSLINE_CACHE := $(CACHE)

MINIO_VERSION := v0.0.0-20260212201848-7aac2a2c5b7c
BUF_VERSION := v1.75.0
PROTOC_GEN_GO_VERSION := v1.36.12
# Renders the infrastructure charts in deploy's tests.
HELM_VERSION := v4.3.2
# From npm; 2.x runs on Node.js 20.
REDOCLY_VERSION := 2.77.0
REDOCLY := $(CACHE)/npm/node_modules/.bin/redocly

FUZZSCALE ?= 1

.PHONY: dev build test check fuzz bench chaos cluster proto proto-check openapi-lint tools deps
dev: deps
	go run ./cmd/pressline dev

# libvips for image renditions (cgo), Chromium for the browser tests and
# promtool (Debian's prometheus package) for the alert rules' tests, when
# the machine lacks them.
deps:
	@pkg-config --exists vips 2>/dev/null && command -v chromium >/dev/null && command -v promtool >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pkg-config libvips-dev libvips-tools chromium prometheus; }

build: deps
	go build -o bin/pressline ./cmd/pressline

test: deps tools
	go test -race -count=1 -timeout 20m ./...

# Each fuzz target for a bounded number of inputs, sized to about ten
# seconds on two cores (FUZZSCALE multiplies them); failures are saved
# under the package's testdata/fuzz and fail the run. A count, not a
# duration: go1.26's fuzz coordinator can fail a timed run with "context
# deadline exceeded" at the end of -fuzztime though no input failed
# (golang/go#75804, fixed in go1.27).
fuzz1 = go test ./$(1) -run '^$$' -fuzz '^$(2)$$' -fuzztime $$(( $(3) * $(FUZZSCALE) ))x
fuzz:
	$(call fuzz1,internal/cleaner,FuzzCleanText,15000)
	$(call fuzz1,internal/cleaner,FuzzCleanHTML,15000)
	$(call fuzz1,internal/cleaner,FuzzCleanNinjs,100000)
	$(call fuzz1,internal/cleaner,FuzzDedupeKey,80000)
	$(call fuzz1,internal/cleaner,FuzzReversedYearRanges,120000)
	$(call fuzz1,internal/imaging,FuzzProcess,1000)
	$(call fuzz1,internal/services/ingest,FuzzRequestParsers,30000)
	$(call fuzz1,internal/services/ingest,FuzzFeedItems,12000)
	$(call fuzz1,internal/render,FuzzPage,5000)
	$(call fuzz1,internal/slug,FuzzMake,400000)
	$(call fuzz1,pkg/webhook,FuzzVerify,120000)

# The fault tests in full (docs/reliability.md): every service killed
# with -9 under load, NATS restarted, MinIO stopped for 30 s, a poison
# article, duplicates and redeliveries. `make test` runs a shorter subset.
chaos: deps tools
	PRESSLINE_CHAOS=full go test ./internal/app -run '^TestChaos$$' -count=1 -v -timeout 30m

# The cluster tests in full (docs/reliability.md): three NATS nodes, a
# four-node distributed MinIO, two processes of each stage; nodes stopped,
# one cut off, a MinIO node killed, the withdrawal and correction races.
# `make test` runs them with a shorter MinIO outage and less load.
cluster: deps tools
	PRESSLINE_CHAOS=full go test ./internal/app -run '^(TestChaosCluster|TestWithdrawalAndCorrectionRaces)$$' -count=1 -v -timeout 30m
	go test ./internal/kvstore ./internal/status ./internal/refs ./internal/blob -count=1 -v -run 'Cluster|Partition|R3|Distributed|Conflicts|LastWrite|Concurrent|NextVersion'

# The benchmarks behind docs/benchmarks.md: the whole pipeline against its
# floor (pressline bench), then the Go benchmarks of the parts.
bench: tools
	go run ./cmd/pressline bench -n 10000 --mix text --floor
	go run ./cmd/pressline bench -n 500 --mix photos --floor
	go test ./internal/cleaner -run '^$$' -bench . -benchtime 3s -cpu 1
	go test ./internal/imaging -run '^$$' -bench . -benchtime 8x
	go test ./internal/bus -run '^$$' -bench BenchmarkPublish -benchtime 3s
	go test ./internal/cli -run '^$$' -bench BenchmarkPipeline -benchtime 2000x

# Static checks CI runs besides the tests.
check: tools proto-check openapi-lint
	go vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt wants to change:"; echo "$$out"; exit 1; fi

proto: tools
	buf lint
	buf generate

# The ingest API's OpenAPI document against a real linter's rules.
openapi-lint: $(REDOCLY)
	REDOCLY_TELEMETRY=off $(REDOCLY) lint --config internal/services/ingest/redocly.yaml internal/services/ingest/openapi.json

# Fails when the committed generated code differs from what the schemas give.
proto-check: proto
	@if [ -n "$$(git status --porcelain -- proto)" ]; then echo "generated code in proto/ is stale: run make proto and commit"; git status --porcelain -- proto; exit 1; fi

tools: $(BIN)/minio $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/helm $(CACHE)/charts/minio $(REDOCLY)

$(REDOCLY):
	npm install --silent --no-audit --no-fund --prefix $(CACHE)/npm @redocly/cli@$(REDOCLY_VERSION)

$(BIN)/minio:
	GOBIN=$(BIN) go install github.com/minio/minio@$(MINIO_VERSION)

$(BIN)/helm:
	GOBIN=$(BIN) go install helm.sh/helm/v4/cmd/helm@$(HELM_VERSION)

# The official MinIO chart, as the MinIO release the tests run ships it
# (no chart repository is reachable from CI).
$(CACHE)/charts/minio:
	mkdir -p $(CACHE)/charts
	cp -R "$$(go mod download -json github.com/minio/minio@$(MINIO_VERSION) | sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p')/helm/minio" $@
	chmod -R u+w $@

$(BIN)/buf:
	GOBIN=$(BIN) go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)

$(BIN)/protoc-gen-go:
	GOBIN=$(BIN) go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
