# brokerkit's everyday commands. `make test` is what CI runs (through .ci/run).
GO          ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
TEST_FLAGS  ?= -race -count=1 -timeout 12m

.PHONY: test faults images bench lint demo fmt

## test: vet, then every test with the race detector. A broker comes from
## AMQP_URL / KAFKA_BROKERS, else a container when Docker answers, else (Kafka)
## an embedded one; what cannot be had is skipped, naming it. The short fault
## suite (one fault per backend) runs here when Docker answers.
test:
	$(GO) vet ./...
	$(GO) test $(TEST_FLAGS) ./...

## faults: the full fault suite on broker containers the tests own (restarts,
## kill -9, pauses, a killed consumer-group member); one FAULT line per scenario.
faults:
	BROKERTEST_FAULTS=full $(GO) test -race -count=1 -timeout 30m -v -run '^TestFaults' ./integration_test/

## images: build the local broker images (RabbitMQ from Debian packages, the
## kfake server) for machines without a registry; cached by tag.
images:
	bash .ci/images

## bench: every Go benchmark, each against its raw-client baseline.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./...

## lint: formatting, go vet and staticcheck.
lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: files above need formatting'; exit 1; }
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

## demo: the quickstart on the in-memory broker.
demo:
	$(GO) run ./examples/quickstart

fmt:
	gofmt -w $$(git ls-files '*.go')
