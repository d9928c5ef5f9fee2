package kafka

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	kafka "github.com/segmentio/kafka-go"

	"github.com/brokerkit/brokerkit/transport"
)

// TestURLOptionsByRole: one URL opens both ends; each applies the URL's
// options of both roles and of its own, and skips the other role's.
func TestURLOptionsByRole(t *testing.T) {
	u, err := url.Parse("kafka://h:1?client_id=svc&max_attempts=3&acks=one&batch_bytes=4000000&fetch_max_wait=2s&fetch_linger=0s&commit_interval=5s")
	if err != nil {
		t.Fatal(err)
	}
	p, err := opener{}.OpenPublisher(context.Background(), u, transport.OpenConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	s, err := opener{}.OpenSubscriber(context.Background(), u, transport.OpenConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pc, sc := p.(*Publisher).cfg, s.(*Subscriber).cfg
	for _, c := range []*config{pc, sc} {
		if c.clientID != "svc" || c.maxAttempts != 3 {
			t.Errorf("role %d: client ID %q, max attempts %d: the options of both roles were not applied", c.role, c.clientID, c.maxAttempts)
		}
	}
	if pc.acks != kafka.RequireOne || pc.batchBytes != 4_000_000 {
		t.Errorf("publisher: acks %v, batch bytes %d: its URL options were not applied", pc.acks, pc.batchBytes)
	}
	if pc.fetchMaxWait != DefaultFetchMaxWait || pc.commitInterval != DefaultCommitInterval {
		t.Errorf("publisher: fetch max wait %v, commit interval %v: subscriber options were applied", pc.fetchMaxWait, pc.commitInterval)
	}
	if sc.fetchMaxWait != 2*time.Second || sc.fetchLinger != 0 || sc.commitInterval != 5*time.Second {
		t.Errorf("subscriber: fetch max wait %v, linger %v, commit interval %v: its URL options were not applied", sc.fetchMaxWait, sc.fetchLinger, sc.commitInterval)
	}
	if sc.acks != kafka.RequireAll || sc.batchBytes != DefaultBatchBytes {
		t.Errorf("subscriber: acks %v, batch bytes %d: publisher options were applied", sc.acks, sc.batchBytes)
	}
}

// TestURLOptionsOfOtherRoleChecked: a bad value is refused by either end,
// even where the option is not applied.
func TestURLOptionsOfOtherRoleChecked(t *testing.T) {
	for _, raw := range []string{"kafka://h:1?fetch_max_wait=-1s", "kafka://h:1?batch_bytes=0"} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := (opener{}).OpenPublisher(context.Background(), u, transport.OpenConfig{}); !errors.Is(err, transport.ErrInvalid) {
			t.Errorf("OpenPublisher(%s): %v, want ErrInvalid", raw, err)
		}
		if _, err := (opener{}).OpenSubscriber(context.Background(), u, transport.OpenConfig{}); !errors.Is(err, transport.ErrInvalid) {
			t.Errorf("OpenSubscriber(%s): %v, want ErrInvalid", raw, err)
		}
	}
}
