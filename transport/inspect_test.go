package transport_test

import (
	"context"
	"errors"
	"testing"

	"github.com/brokerkit/brokerkit/transport"
)

type fakeAdmin struct {
	transport.PublisherFunc
	calls []string
}

func (f *fakeAdmin) GroupStats(_ context.Context, topic, group string) (transport.GroupStats, error) {
	f.calls = append(f.calls, "stats "+topic+"/"+group)
	return transport.GroupStats{Topic: topic, Group: group, Backlog: 7}, nil
}

func (f *fakeAdmin) Purge(_ context.Context, topic, group string) (int64, error) {
	f.calls = append(f.calls, "purge "+topic+"/"+group)
	return 7, nil
}

func (f *fakeAdmin) CreateTopic(_ context.Context, topic string, _ transport.TopicSpec) error {
	f.calls = append(f.calls, "create "+topic)
	return nil
}

func (f *fakeAdmin) DeleteTopic(_ context.Context, topic string) error {
	f.calls = append(f.calls, "delete "+topic)
	return nil
}

func TestCapabilityHelpers(t *testing.T) {
	ctx := context.Background()
	plain := transport.PublisherFunc(func(context.Context, string, ...*transport.Message) error { return nil })
	for name, err := range map[string]error{
		"Stats":       func() error { _, err := transport.Stats(ctx, plain, "t", "g"); return err }(),
		"Purge":       func() error { _, err := transport.Purge(ctx, plain, "t", "g"); return err }(),
		"CreateTopic": transport.CreateTopic(ctx, plain, "t", transport.TopicSpec{}),
		"DeleteTopic": transport.DeleteTopic(ctx, plain, "t"),
	} {
		if !errors.Is(err, transport.ErrUnsupported) || !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("%s on a plain publisher: %v, want ErrUnsupported", name, err)
		}
		if transport.Retryable(err) {
			t.Errorf("%s: ErrUnsupported is retryable", name)
		}
	}

	f := &fakeAdmin{}
	for name, err := range map[string]error{
		"Stats without group":  func() error { _, err := transport.Stats(ctx, f, "t", ""); return err }(),
		"Purge without topic":  func() error { _, err := transport.Purge(ctx, f, "", "g"); return err }(),
		"CreateTopic negative": transport.CreateTopic(ctx, f, "t", transport.TopicSpec{Partitions: -1}),
		"DeleteTopic empty":    transport.DeleteTopic(ctx, f, ""),
	} {
		if !errors.Is(err, transport.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	if len(f.calls) != 0 {
		t.Fatalf("bad input reached the backend: %v", f.calls)
	}
	st, err := transport.Stats(ctx, f, "t", "g")
	if err != nil || st.Backlog != 7 {
		t.Fatalf("Stats: %+v, %v", st, err)
	}
	if n, err := transport.Purge(ctx, f, "t", "g"); err != nil || n != 7 {
		t.Fatalf("Purge: %d, %v", n, err)
	}
	if err := transport.CreateTopic(ctx, f, "t", transport.TopicSpec{Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	if err := transport.DeleteTopic(ctx, f, "t"); err != nil {
		t.Fatal(err)
	}
	if want := "[stats t/g purge t/g create t delete t]"; fmtCalls(f.calls) != want {
		t.Fatalf("calls %v, want %s", f.calls, want)
	}
}

func fmtCalls(c []string) string {
	s := "["
	for i, x := range c {
		if i > 0 {
			s += " "
		}
		s += x
	}
	return s + "]"
}
