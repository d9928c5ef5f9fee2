package middleware

import (
	"context"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/transport"
)

func TestStampPublishTime(t *testing.T) {
	own := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	stale := transport.Metadata{MetaPublishedAt: "2000-01-01T00:00:00Z"}
	rec := &recordingPublisher{}
	before := time.Now()
	msgs := []*transport.Message{{}, {PublishedAt: own}, {Metadata: stale}}
	if err := StampPublishTime(rec).Publish(context.Background(), "t", msgs...); err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		at, ok := PublishTime(&transport.Message{Metadata: m.Metadata})
		if !ok {
			t.Fatalf("message %d: no publish time in %v", i, m.Metadata)
		}
		switch i {
		case 1:
			if !at.Equal(own) {
				t.Errorf("caller's PublishedAt %v became %v", own, at)
			}
		default:
			if at.Before(before) || at.After(time.Now()) {
				t.Errorf("message %d stamped %v, not the time of the publish", i, at)
			}
		}
	}
	// On delivery, the backend's exact PublishedAt wins over a stale stamp.
	if at, _ := PublishTime(&transport.Message{PublishedAt: own, Metadata: stale}); !at.Equal(own) {
		t.Errorf("PublishTime = %v, want the backend's %v", at, own)
	}
	if _, ok := PublishTime(&transport.Message{Metadata: transport.Metadata{MetaPublishedAt: "yesterday"}}); ok {
		t.Error("unparseable publish time accepted")
	}
}

// The most exact time wins: a stamp inside the broker's whole second (AMQP's
// timestamp) or millisecond (Kafka's) is the same moment, told exactly; a
// stamp outside it is someone else's (a forward through a publisher that
// did not stamp) and loses to the broker's time.
func TestPublishTimePrefersTheMostExact(t *testing.T) {
	exact := time.Date(2026, 11, 29, 21, 0, 0, 562_345_678, time.UTC)
	stamp := transport.Metadata{MetaPublishedAt: exact.Format(time.RFC3339Nano)}
	for _, tc := range []struct {
		name   string
		broker time.Time
		want   time.Time
	}{
		{"AMQP whole seconds", exact.Truncate(time.Second), exact},
		{"Kafka milliseconds", exact.Truncate(time.Millisecond), exact},
		{"memory nanoseconds", exact.Add(time.Microsecond), exact.Add(time.Microsecond)},
		{"stamp from another second", exact.Truncate(time.Second).Add(-time.Second), exact.Truncate(time.Second).Add(-time.Second)},
		{"stamp before the broker's time", exact.Truncate(time.Second).Add(time.Second), exact.Truncate(time.Second).Add(time.Second)},
		{"no broker time", time.Time{}, exact},
	} {
		got, ok := PublishTime(&transport.Message{PublishedAt: tc.broker, Metadata: stamp})
		if !ok || !got.Equal(tc.want) {
			t.Errorf("%s: PublishTime = %v, %v; want %v", tc.name, got, ok, tc.want)
		}
	}
}
