package tinybroker_test

import (
	"testing"

	"github.com/brokerkit/brokerkit/examples/tinybroker"
	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/transporttest"
)

// TestConformance: the example backend passes the same suite as
// brokerkit's own, claiming what it does.
func TestConformance(t *testing.T) {
	b := tinybroker.New()
	transporttest.Run(t, transporttest.Harness{
		NewPublisher:  func(testing.TB) transport.Publisher { return b.Client() },
		NewSubscriber: func(testing.TB) transport.Subscriber { return b.Client() },
		Caps: transporttest.Capabilities{
			Groups: true, Ephemeral: true, Durable: true, Redelivery: true, Ordering: true, PublishTime: true,
		},
	})
}
