package transport_test

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/driver"
)

// fakeOpener records the URL and options it was asked to open with.
type fakeOpener struct {
	got    *url.URL
	config transport.OpenConfig
}

func (f *fakeOpener) OpenPublisher(_ context.Context, u *url.URL, o transport.OpenConfig) (transport.Publisher, error) {
	f.got, f.config = u, o
	q := driver.NewQuery(u)
	q.Int("batch", 1)
	if err := q.Err(); err != nil {
		return nil, err
	}
	return transport.PublisherFunc(func(context.Context, string, ...*transport.Message) error { return nil }), nil
}

func (f *fakeOpener) OpenSubscriber(context.Context, *url.URL, transport.OpenConfig) (transport.Subscriber, error) {
	return nil, errors.New("not used")
}

var fake = &fakeOpener{}

func init() { transport.Register("faketest", fake) }

func TestOpenByURL(t *testing.T) {
	ctx := context.Background()
	if _, err := transport.OpenPublisher(ctx, "faketest://host:1/x?batch=3"); err != nil {
		t.Fatal(err)
	}
	if fake.got.Host != "host:1" {
		t.Errorf("opener got %v", fake.got)
	}
	logger := slog.New(slog.DiscardHandler)
	if _, err := transport.OpenPublisher(ctx, "faketest://host:1", transport.WithLogger(logger)); err != nil || fake.config.Logger != logger {
		t.Errorf("WithLogger did not reach the backend: %v, %v", err, fake.config.Logger)
	}
	for _, o := range []transport.OpenOption{nil, transport.WithLogger(nil)} {
		if _, err := transport.OpenPublisher(ctx, "faketest://host:1", o); !errors.Is(err, transport.ErrInvalid) {
			t.Errorf("bad OpenOption: %v, want ErrInvalid", err)
		}
	}
	const secret = "hunter2-secret"
	bad := []struct{ url, mention string }{
		{"nosuch://user:" + secret + "@host", `unknown broker URL scheme "nosuch"`},
		{"no-scheme-at-all", "has no scheme"},
		{"faketest://user:" + secret + "@host/%zz", "malformed"},
		{"faketest://user:" + secret + "@host?batch=x", `batch="x" is not an integer`},
		{"faketest://user:" + secret + "@host?bacth=3", `unknown option "bacth"`},
	}
	for _, b := range bad {
		_, err := transport.OpenPublisher(ctx, b.url)
		if !errors.Is(err, transport.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", b.url, err)
			continue
		}
		if !strings.Contains(err.Error(), b.mention) {
			t.Errorf("%s: %q does not say %q", b.url, err, b.mention)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: password in error %q", b.url, err)
		}
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("second Register of a scheme did not panic")
		}
	}()
	transport.Register("faketest", fake)
}

func FuzzQuery(f *testing.F) {
	f.Add("x://h?n=3&on=true&d=1s")
	f.Add("x://u:p@h:1/v?n=-1&d=zz&%zz")
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		q := driver.NewQuery(u)
		q.Int("n", 0)
		q.Bool("on", false)
		q.Duration("d", 0)
		if err := q.Err(); err != nil {
			if !errors.Is(err, transport.ErrInvalid) {
				t.Fatalf("Query error not ErrInvalid: %v", err)
			}
			if p, ok := u.User.Password(); ok && len(p) > 3 && strings.Contains(err.Error(), p) {
				t.Fatalf("password in error: %v", err)
			}
		}
	})
}
