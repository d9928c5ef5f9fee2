// Package integration_test runs the same scenarios on every backend: the
// middleware scenarios (dead-lettering, deduplication, tracing across the
// broker) on the embedded Kafka and on the RabbitMQ at AMQP_URL. The memory
// backend runs them in middleware/middlewaretest itself.
package integration_test
