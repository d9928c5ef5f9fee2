package brokertest

import (
	"regexp"
	"testing"
)

// recorder is a testing.TB that records how a test ended instead of ending.
type recorder struct {
	testing.TB
	skipped, failed bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Skipf(string, ...any)  { r.skipped = true }
func (r *recorder) Fatalf(string, ...any) { r.failed = true }
func (r *recorder) Name() string          { return r.TB.Name() }

func TestUnavailable(t *testing.T) {
	for _, tc := range []struct {
		require      string
		skip, failed bool
	}{{"", true, false}, {"0", true, false}, {"1", false, true}} {
		t.Setenv(EnvRequire, tc.require)
		r := &recorder{TB: t}
		Unavailable(r, "no broker: set %s", EnvAMQPURL)
		if r.skipped != tc.skip || r.failed != tc.failed {
			t.Errorf("%s=%q: skipped=%v failed=%v, want %v %v", EnvRequire, tc.require, r.skipped, r.failed, tc.skip, tc.failed)
		}
	}
}

func TestName(t *testing.T) {
	a, b := Name(t, "topic"), Name(t, "topic")
	if a == b {
		t.Fatalf("two names alike: %s", a)
	}
	if !regexp.MustCompile(`^topic\.TestName\.[0-9a-f]{8}$`).MatchString(a) {
		t.Fatalf("name %q", a)
	}
	t.Run("sub/test with spaces", func(t *testing.T) {
		if n := Name(t, "q"); !regexp.MustCompile(`^[A-Za-z0-9._-]+$`).MatchString(n) {
			t.Fatalf("name %q has characters brokers refuse", n)
		}
	})
}

func TestKafkaFromEnvironment(t *testing.T) {
	t.Setenv(EnvKafkaBrokers, " k1:9092, k2:9093 ,")
	if got := Kafka(t); len(got) != 2 || got[0] != "k1:9092" || got[1] != "k2:9093" {
		t.Fatalf("brokers %q", got)
	}
	if got := KafkaURL(t, "acks=one"); got != "kafka://k1:9092,k2:9093?acks=one" {
		t.Fatalf("URL %q", got)
	}
}

func TestRabbitMQNamesTheVariable(t *testing.T) {
	t.Setenv(EnvAMQPURL, "")
	t.Setenv(EnvRequire, "")
	t.Setenv(EnvContainers, "0")
	r := &recorder{TB: t}
	RabbitMQ(r)
	if !r.skipped {
		t.Error("RabbitMQ without AMQP_URL did not skip")
	}
	t.Setenv(EnvAMQPURL, "amqp://guest:guest@127.0.0.1:5672/")
	if got := RabbitMQ(t); got != "amqp://guest:guest@127.0.0.1:5672/" {
		t.Errorf("RabbitMQ() = %q", got)
	}
}
