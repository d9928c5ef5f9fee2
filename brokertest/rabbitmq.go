package brokertest

import (
	"os"
	"testing"
)

// RabbitMQ returns the URL of the RabbitMQ broker in AMQP_URL for t. When
// it is not set, t is skipped with a message naming the variable, or fails
// with BROKERTEST_REQUIRE=1. There is no embedded RabbitMQ: run one (the
// Debian package, or a container) and point AMQP_URL at it.
func RabbitMQ(t testing.TB) string {
	t.Helper()
	url := os.Getenv(EnvAMQPURL)
	if url == "" {
		Unavailable(t, "no RabbitMQ: set %s (for example amqp://guest:guest@127.0.0.1:5672/)", EnvAMQPURL)
	}
	return url
}
