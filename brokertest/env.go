// Package brokertest gives tests a broker to run against, with no set-up on
// a machine with Docker:
//
//   - RabbitMQ: the broker at AMQP_URL, else a RabbitMQ container shared by
//     every test package of the run, with a virtual host per test;
//   - Kafka: the brokers in KAFKA_BROKERS, else a Kafka container shared the
//     same way, else an in-process kfake cluster
//     (github.com/twmb/franz-go/pkg/kfake) started for the test.
//
// A test that stops, kills or freezes its broker owns one:
// NewRabbitMQContainer and NewKafkaContainer start a container for it alone,
// with Stop, Start, Restart, Kill, Pause and Unpause; names, ports and data
// survive every restart. Containers run on github.com/testcontainers/testcontainers-go,
// on a bridge network with published ports (the default) or on the host
// network (BROKERTEST_NETWORK=host, or TESTCONTAINERS_PROVIDER=hostnet: the
// runtime provider this package registers). docs/testing.md has the details.
//
// A broker that cannot be had skips the test with a message naming the
// variable to set or what to install, except when BROKERTEST_REQUIRE=1,
// which turns every such skip into a failure (CI sets it, so that a missing
// broker never passes silently).
package brokertest

import (
	"os"
	"testing"

	"github.com/brokerkit/brokerkit/transport/transporttest"
)

// Environment variables read by this package.
const (
	EnvKafkaBrokers = "KAFKA_BROKERS"      // comma-separated host:port list
	EnvAMQPURL      = "AMQP_URL"           // amqp://user:pass@host:5672/vhost
	EnvRequire      = "BROKERTEST_REQUIRE" // "1": a missing broker fails the test
)

// Required reports whether BROKERTEST_REQUIRE=1 asks for every broker.
func Required() bool { return os.Getenv(EnvRequire) == "1" }

// Unavailable ends t because something it needs is missing: it skips, or,
// when BROKERTEST_REQUIRE=1, fails. The message should name what to set or
// install.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if Required() {
		t.Fatalf(format+" (%s=1: a missing dependency fails the test)", append(args, EnvRequire)...)
		return
	}
	t.Skipf(format, args...)
}

// Name returns a name no other test uses, for a topic, queue or group:
// prefix, the test's name and random hex, in characters Kafka and RabbitMQ
// both accept. It is transporttest.Name, here for tests that get their
// broker from this package.
func Name(t testing.TB, prefix string) string { return transporttest.Name(t, prefix) }
