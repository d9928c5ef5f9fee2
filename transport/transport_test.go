package transport_test

import (
	"context"
	"strings"
	"testing"

	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/driver"
)

func TestChainRunsFirstOutermost(t *testing.T) {
	var trace []string
	mw := func(name string) transport.Middleware {
		return func(next transport.Handler) transport.Handler {
			return func(ctx context.Context, m *transport.Message) error {
				trace = append(trace, name+">")
				err := next(ctx, m)
				trace = append(trace, "<"+name)
				return err
			}
		}
	}
	h := transport.Chain(func(context.Context, *transport.Message) error {
		trace = append(trace, "h")
		return nil
	}, mw("a"), mw("b"))
	h(context.Background(), &transport.Message{})
	if got := strings.Join(trace, " "); got != "a> b> h <b <a" {
		t.Errorf("order %q", got)
	}
}

func TestMessage(t *testing.T) {
	m := &transport.Message{Payload: []byte("p"), Metadata: transport.Metadata{"k": "v"}}
	c := m.Copy()
	c.Payload[0] = 'x'
	c.Metadata["k"] = "changed"
	if string(m.Payload) != "p" || m.Metadata.Get("k") != "v" {
		t.Error("Copy shares payload or metadata")
	}
	type native struct{ offset int64 }
	driver.SetNative(m, &native{offset: 42}) // as a backend does
	var ptr *native
	var val native
	var wrong *strings.Builder
	if !m.As(&ptr) || ptr.offset != 42 || !m.As(&val) || val.offset != 42 || m.As(&wrong) || m.As(nil) {
		t.Error("As does not reach the native message as documented")
	}
	seen := map[string]bool{}
	for range 1000 {
		id := transport.NewID()
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
	}
}
