package memory_test

import (
	"testing"

	"github.com/brokerkit/brokerkit/memory"
	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/transporttest"
)

func newBroker(t testing.TB, opts ...memory.Option) *memory.Broker {
	t.Helper()
	b, err := memory.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestConformance runs the suite on a named broker reached by URL: each
// publisher and subscriber is a handle on it, so closing one leaves the
// broker to the others, as with a real broker.
func TestConformance(t *testing.T) {
	const maxPayload = 4 << 20
	url := "mem://conformance?max_payload=4194304"
	transporttest.Run(t, transporttest.Harness{
		NewPublisher: func(t testing.TB) transport.Publisher {
			p, err := transport.OpenPublisher(t.Context(), url)
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
		NewSubscriber: func(t testing.TB) transport.Subscriber {
			s, err := transport.OpenSubscriber(t.Context(), url)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Caps: transporttest.Capabilities{
			Groups: true, Ephemeral: true, Durable: true, Redelivery: true,
			Ordering: true, PublishTime: true, MaxPayload: maxPayload,
		},
	})
}
