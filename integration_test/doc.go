// Package integration_test runs the same scenarios on every backend: the
// quickstart program unchanged but for its -broker URL, and the middleware
// scenarios (dead-lettering, deduplication, tracing across the broker,
// encrypted and signed messages with key rotation) on
// the embedded Kafka and on the RabbitMQ at AMQP_URL. The memory backend
// runs the middleware scenarios in middleware/middlewaretest itself.
//
// The fault suite (faults_test.go) restarts, kills and freezes broker
// containers the tests own while publishers and a group subscriber run, and
// prints one FAULT line per scenario: a short version in `make test`, every
// scenario with `make faults`. See docs/testing.md.
package integration_test
