package memory_test

import (
	"context"
	"fmt"

	"github.com/brokerkit/brokerkit/memory"
	"github.com/brokerkit/brokerkit/transport"
)

func Example() {
	ctx := context.Background()
	b, err := memory.New()
	if err != nil {
		panic(err)
	}
	defer b.Close()

	done := make(chan struct{})
	_, err = b.Subscribe(ctx, "orders", func(_ context.Context, m *transport.Message) error {
		if m.Attempt == 1 {
			return fmt.Errorf("first try fails") // delivered again, attempt 2
		}
		fmt.Printf("%s: %s (attempt %d)\n", m.Key, m.Payload, m.Attempt)
		close(done)
		return nil
	}, transport.WithGroup("billing"))
	if err != nil {
		panic(err)
	}
	err = b.Publish(ctx, "orders", &transport.Message{Key: "customer-7", Payload: []byte(`{"total":42}`)})
	if err != nil {
		panic(err)
	}
	<-done
	// Output: customer-7: {"total":42} (attempt 2)
}
