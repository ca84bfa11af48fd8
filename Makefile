# kafka-broker-go: the targets the README names.
GO        ?= go
GOFLAGS   ?=
PKGS      ?= ./...
FUZZTIME  ?= 20s

.PHONY: test test-kafka test-kafka-secure test-kafka-cluster test-interop bench fuzz lint vet fmt tidy-check ci

## test: unit and integration tests on the embedded broker, with -race
test:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

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

## bench: the library against raw confluent-kafka-go on the same broker
bench:
	$(GO) run ./bench $(BENCHFLAGS)

## fuzz: each fuzz target for FUZZTIME
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzEventObjectDecode$$' -fuzztime $(FUZZTIME) ./core/
	$(GO) test -run '^$$' -fuzz '^FuzzRouterMatch$$' -fuzztime $(FUZZTIME) ./core/
	$(GO) test -run '^$$' -fuzz '^FuzzFastDecodeMatchesSlow$$' -fuzztime $(FUZZTIME) ./core/
	$(GO) test -run '^$$' -fuzz '^FuzzFastEncodeMatchesSlow$$' -fuzztime $(FUZZTIME) ./core/

## lint: go vet and a gofmt check
lint: vet
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

tidy-check:
	$(GO) mod tidy -diff

ci: lint test fuzz test-kafka test-kafka-secure test-kafka-cluster test-interop
