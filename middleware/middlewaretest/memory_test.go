package middlewaretest_test

import (
	"testing"

	"github.com/brokerkit/brokerkit/memory"
	"github.com/brokerkit/brokerkit/middleware/middlewaretest"
	"github.com/brokerkit/brokerkit/transport"
)

// The scenarios on the memory backend. Kafka and RabbitMQ run the same
// function with their own constructors (see the package doc).
func TestMemory(t *testing.T) {
	b, err := memory.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	middlewaretest.Run(t, middlewaretest.Harness{
		// One broker for the whole test: every scenario uses topics of
		// its own. The scenarios close what these return, so hand out
		// handles whose Close leaves the broker open.
		NewPublisher:  func(testing.TB) transport.Publisher { return noClose{b} },
		NewSubscriber: func(testing.TB) transport.Subscriber { return noClose{b} },
		System:        "memory",
	})
}

type noClose struct{ *memory.Broker }

func (noClose) Close() error { return nil }
