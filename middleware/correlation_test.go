package middleware

import (
	"context"
	"testing"

	"github.com/brokerkit/brokerkit/transport"
)

func TestCorrelationIDFlowsFromConsumedToPublished(t *testing.T) {
	tests := []struct {
		name     string
		consumed *transport.Message
		out      *transport.Message
		want     string
	}{
		{"carried on", &transport.Message{ID: "m1", Metadata: transport.Metadata{MetaCorrelationID: "c-9"}},
			&transport.Message{}, "c-9"},
		{"first of a conversation uses its ID", &transport.Message{ID: "m2"}, &transport.Message{}, "m2"},
		{"outgoing ID of its own is kept", &transport.Message{ID: "m3"},
			&transport.Message{Metadata: transport.Metadata{MetaCorrelationID: "mine"}}, "mine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recordingPublisher{}
			pub := transport.ChainPublisher(rec, CorrelatePublisher)
			h := CorrelationID(func(ctx context.Context, m *transport.Message) error {
				return pub.Publish(ctx, "next", tt.out)
			})
			if err := h(context.Background(), tt.consumed); err != nil {
				t.Fatal(err)
			}
			sent := rec.all()
			if len(sent) != 1 {
				t.Fatalf("%d published", len(sent))
			}
			if got := sent[0].msg.Metadata.Get(MetaCorrelationID); got != tt.want {
				t.Errorf("correlation ID %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCorrelatePublisherOutsideHandler(t *testing.T) {
	rec := &recordingPublisher{}
	m := &transport.Message{}
	if err := CorrelatePublisher(rec).Publish(context.Background(), "t", m); err != nil {
		t.Fatal(err)
	}
	if m.Metadata != nil {
		t.Errorf("metadata %v set without a correlation ID in the context", m.Metadata)
	}
	if got := CorrelationIDFrom(WithCorrelationID(context.Background(), "x")); got != "x" {
		t.Errorf("CorrelationIDFrom = %q", got)
	}
}
