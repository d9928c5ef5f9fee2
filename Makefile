# brokerkit's everyday commands. `make test` is what CI runs (through .ci/run).
GO          ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
TEST_FLAGS  ?= -race -count=1 -timeout 12m

.PHONY: test bench lint demo fmt

## test: vet, then every test with the race detector. RabbitMQ tests need
## AMQP_URL; Kafka tests use an embedded broker unless KAFKA_BROKERS is set.
test:
	$(GO) vet ./...
	$(GO) test $(TEST_FLAGS) ./...

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
