package amqp

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/brokerkit/brokerkit/transport"
)

// TestURLOptionsByRole: one URL opens both ends; each applies the URL's
// options of both roles and of its own, and skips the other role's.
func TestURLOptionsByRole(t *testing.T) {
	u, err := url.Parse("amqp://127.0.0.1:1/?connection_name=svc&exchange_type=direct&confirms=false&channels=2&quorum=true&prefetch=5")
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
		if c.connName != "svc" || c.exchangeType != "direct" {
			t.Errorf("role %d: connection name %q, exchange type %q: the options of both roles were not applied", c.role, c.connName, c.exchangeType)
		}
	}
	if pc.confirms || pc.channels != 2 {
		t.Errorf("publisher: confirms %v, channels %d: its URL options were not applied", pc.confirms, pc.channels)
	}
	if pc.quorum || pc.prefetch != DefaultPrefetch {
		t.Errorf("publisher: quorum %v, prefetch %d: subscriber options were applied", pc.quorum, pc.prefetch)
	}
	if !sc.quorum || sc.prefetch != 5 {
		t.Errorf("subscriber: quorum %v, prefetch %d: its URL options were not applied", sc.quorum, sc.prefetch)
	}
	if !sc.confirms || sc.channels != DefaultChannels {
		t.Errorf("subscriber: confirms %v, channels %d: publisher options were applied", sc.confirms, sc.channels)
	}
}

// TestURLOptionsOfOtherRoleChecked: a bad value, or a bad combination, is
// refused by either end, even where the option is not applied.
func TestURLOptionsOfOtherRoleChecked(t *testing.T) {
	for _, raw := range []string{
		"amqp://127.0.0.1:1/?max_length=0",
		"amqp://127.0.0.1:1/?channels=0",
		"amqp://127.0.0.1:1/?mandatory=true&confirms=false",
	} {
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
