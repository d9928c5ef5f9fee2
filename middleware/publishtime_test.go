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
	// On delivery, the backend's PublishedAt wins over the metadata.
	if at, _ := PublishTime(&transport.Message{PublishedAt: own, Metadata: stale}); !at.Equal(own) {
		t.Errorf("PublishTime = %v, want the backend's %v", at, own)
	}
	if _, ok := PublishTime(&transport.Message{Metadata: transport.Metadata{MetaPublishedAt: "yesterday"}}); ok {
		t.Error("unparseable publish time accepted")
	}
}
