# Groundwork's two everyday commands are `make run` and `make test`.
SHELL    := bash
.SHELLFLAGS := -o pipefail -c
GO       ?= go
BIN      := bin/groundwork
VERSION  := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BUILT    := $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
IMAGE    ?= groundwork:$(COMMIT)
LDFLAGS  := -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.buildTime=$(BUILT)

.PHONY: run build test fuzz lint audit bench deps clean image e2e race

## run: install missing system packages, build, and serve on :8080 with the embedded database
run: build
	@scripts/install-deps.sh run
	./$(BIN) serve

## build: compile bin/groundwork
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/groundwork

## test: vet and run every test (the newcomer's tier; CI runs it, and `make e2e` runs it again under the race detector)
test: deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

## race: every test under the race detector (about twice as slow: part of the heavy tier)
race: deps
	$(GO) test -race -count=1 -timeout 40m ./...

## fuzz: a bounded fuzzing run of the request decoders (15,000 inputs each, FUZZ_EXECS; a count, not a duration: Go 1.26's fuzzing coordinator can report a spurious "context deadline exceeded" when a -fuzztime duration ends on a busy machine; their seeds also run in `make test`), then the spec-driven API test with 400 rounds (about 18,000 requests over all 17 operations; 20 rounds, about 900-1,000 requests, in `make test`) and a new seed: 0 panics, 0 5xx
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzFormDecoding$$' -fuzztime $${FUZZ_EXECS:-15000}x ./internal/web/
	$(GO) test -run '^$$' -fuzz '^FuzzJSONDecoding$$' -fuzztime $${FUZZ_EXECS:-15000}x ./internal/web/
	GROUNDWORK_API_GEN_ROUNDS=$${API_GEN_ROUNDS:-400} GROUNDWORK_API_GEN_SEED=$$(date +%s) $(GO) test -run '^TestAPIGeneratedRequests$$' -count=1 -v ./internal/web/ | grep -v '^ *{'

## lint: check formatting, vet, lint the GitHub workflows (actionlint, pinned in tools/go.mod), scan the tree for committed secrets (gitleaks, pinned in tools/go.mod), lint migrations for locking hazards (squawk, pinned in package.json), and lint the API description (Redocly CLI, pinned in tools/npm)
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool -modfile=tools/go.mod gitleaks dir . --no-banner --redact --exit-code 1
	scripts/lint-migrations.sh
	scripts/lint-openapi.sh
	$(GO) tool -modfile=tools/go.mod actionlint

## audit: known vulnerabilities in dependencies (govulncheck); says so when its database is unreachable
audit:
	@scripts/audit.sh

## bench: run the benchmarks and print their figures
bench: deps
	$(GO) test -run '^$$' -bench 'ColdStart' -benchtime 5x -count 1 ./cmd/groundwork/ | tee bench.txt
	$(GO) test -run '^$$' -bench 'Readyz|ContactsAPI' -benchtime 1x -count 1 ./cmd/groundwork/ | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'WrongPasswordMemory' -benchtime 3x -count 1 ./cmd/groundwork/ | tee -a bench.txt
	$(GO) test -run '^$$' -bench . -benchtime 2s -count 1 ./internal/account/ ./internal/contacts/ ./internal/org/ ./internal/ratelimit/ | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'WebhookAccept' -benchtime 20000x -count 1 ./internal/billing/ | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'Import100k' -benchtime 1x -count 1 ./internal/imports/ | tee -a bench.txt
	GROUNDWORK_BENCH_EXPORT_ROWS=$${GROUNDWORK_BENCH_EXPORT_ROWS:-1000000} $(GO) test -run '^$$' -bench 'ExportContacts' -benchtime 1x -count 1 -timeout 30m ./cmd/groundwork/ | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'EventProcessing' -benchtime 3x -count 1 ./internal/billing/ | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'RenewalStripeCalls' -benchtime 5x -count 1 ./internal/billing/ | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'OtherOrgReadWhileStripeSlow' -benchtime 1x -count 1 -timeout 20m ./internal/billing/ | tee -a bench.txt
	GROUNDWORK_BENCH_BACKUP_MB=$${GROUNDWORK_BENCH_BACKUP_MB:-1024} $(GO) test -run '^$$' -bench 'Backup|Rehearse|Pitr|WriteDuringBackup' -benchtime 1x -count 1 -timeout 30m ./internal/backup/ | tee -a bench.txt

## image: build the container image $(IMAGE) from the Dockerfile with docker or podman (whichever is present; stand-in base images are built when they cannot be pulled)
image:
	@engine=$$(scripts/container-setup.sh) && \
	  nf=$$([ "$$engine" = podman ] && echo "--network host --format docker") && \
	  $$engine build $$nf --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) --build-arg BUILD_TIME=$(BUILT) -t $(IMAGE) .

## e2e: heavy proofs: every test under the race detector, the e2e-tagged Go tests (named TestE2E...), then the container proofs with real containers (podman or docker)
e2e: deps race
	$(GO) test -tags e2e -run 'E2E' -count=1 -timeout 60m ./...
	GROUNDWORK_PODMAN_SANDBOX=1 deploy/e2e.sh

## deps: install the system packages the commands and tests need (idempotent)
deps:
	@scripts/install-deps.sh

clean:
	rm -rf bin bench.txt
