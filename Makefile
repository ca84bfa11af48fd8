# kafka-broker-go: the targets the README names.
GO        ?= go
GOFLAGS   ?=
PKGS      ?= ./...
# A count of executions (Nx), not a duration: Go 1.26's fuzz coordinator can fail a target with a
# bare "context deadline exceeded" when a duration ends while a worker is mid-call (golang/go#75804,
# fixed in Go 1.27). A duration still works (FUZZTIME=1m) and may then flake that way.
FUZZTIME  ?= 200000x
# golangci-lint, pinned, installed from the Go module proxy on first use into
# the cache the other tiers use (~/.cache/kafka-broker-go).
GOLANGCI_LINT_VERSION ?= v2.15.0
KB_CACHE_DIR          ?= $(HOME)/.cache/kafka-broker-go
GOLANGCI_LINT         ?= $(KB_CACHE_DIR)/bin/golangci-lint-$(GOLANGCI_LINT_VERSION)

.PHONY: test test-kafka test-kafka-secure test-kafka-cluster test-interop test-browser bench fuzz lint golangci-lint vet fmt tidy-check licenses check-go-version ci

## test: unit and integration tests on the embedded broker, with -race
test:
	$(GO) test -race -count=1 -parallel 4 -timeout 20m $(PKGS)

## test-kafka: the same suite against a real Apache Kafka broker (started from Maven Central jars
## unless KAFKA_BOOTSTRAP_SERVERS is set)
test-kafka:
	scripts/test-kafka

## test-kafka-secure: the suite on a SASL_SSL broker (SCRAM-SHA-512 over TLS, ACLs), services as
## SCRAM users with only the README's ACLs; wrong password, missing ACL, unknown CA
test-kafka-secure:
	scripts/test-kafka-secure

## test-kafka-cluster: a 3-node KRaft cluster under load: partition leader SIGKILLed, rolling
## restart; prints the failover figures
test-kafka-cluster:
	scripts/test-kafka-cluster

## test-interop: Go and the Python kafka-broker package exchanging events
test-interop:
	scripts/test-interop

## test-browser: the /docs page of examples/gin driven in a real headless Chromium (Debian's chromium,
## installed with apt-get when missing); the screenshot goes to $(BROWSER_ARTIFACTS) (default .artifacts/browser)
test-browser:
	scripts/test-browser

## bench: the library against hand-written confluent-kafka-go and franz-go on the same broker, with
## the broker's CPU per reply; also writes the results (JSON, table) and SVG charts to bench/out
bench:
	$(GO) run ./bench $(BENCHFLAGS)

## fuzz: each fuzz target for FUZZTIME (executions, or a duration)
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzEventObjectDecode$$' -fuzztime $(FUZZTIME) ./core/
	$(GO) test -run '^$$' -fuzz '^FuzzRouterMatch$$' -fuzztime $(FUZZTIME) ./core/
	$(GO) test -run '^$$' -fuzz '^FuzzFastDecodeMatchesSlow$$' -fuzztime $(FUZZTIME) ./core/
	$(GO) test -run '^$$' -fuzz '^FuzzFastEncodeMatchesSlow$$' -fuzztime $(FUZZTIME) ./core/
	$(GO) test -run '^$$' -fuzz '^FuzzRouterMatchesNaive$$' -fuzztime $(FUZZTIME) ./core/
	$(GO) test -run '^$$' -fuzz '^FuzzReplyPolicy$$' -fuzztime $(FUZZTIME) ./core/

## lint: a gofmt check, go vet, golangci-lint with the linters of .golangci.yml (staticcheck,
## errorlint, revive, gocyclo, ineffassign, unused) and go mod tidy -diff
lint: vet golangci-lint tidy-check
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

golangci-lint: $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) run ./...

$(GOLANGCI_LINT):
	@mkdir -p $(dir $@)
	GOBIN=$(dir $@) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(dir $@)golangci-lint $@

vet:
	$(GO) vet $(PKGS)
	$(GO) vet -tags browser ./examples/gin/

tidy-check:
	$(GO) mod tidy -diff

## check-go-version: a user module at go.mod's go version builds and runs against the library with
## exactly that Go release (toolchain from the module proxy; about 70 s cold on 2 cores)
check-go-version:
	scripts/check-go-version

## licenses: the license of every module the non-test packages are built from; fails on an
## unrecognised or copyleft license or a dependency NOTICE that NOTICE does not carry
licenses:
	$(GO) run ./internal/cmd/licenses ./...

ci: lint test fuzz test-kafka test-kafka-secure test-kafka-cluster test-interop test-browser
