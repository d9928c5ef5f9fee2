package transport

import (
	"context"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// Opener opens a backend's publishers and subscribers from URLs of its
// scheme, with what the caller's OpenOptions said. Backends register one in
// their init function.
type Opener interface {
	OpenPublisher(ctx context.Context, u *url.URL, o OpenConfig) (Publisher, error)
	OpenSubscriber(ctx context.Context, u *url.URL, o OpenConfig) (Subscriber, error)
}

// OpenOption configures OpenPublisher and OpenSubscriber with what a URL
// cannot carry.
type OpenOption func(*OpenConfig) error

// OpenConfig is the resolved form of the OpenOptions, for backends.
type OpenConfig struct {
	// Logger receives the client's log records (reconnects, retries).
	// Nil: the backend's default, silent.
	Logger *slog.Logger
}

// WithLogger gives a client opened by URL a logger, for what the backend
// logs (reconnects, retries, topology it declared). Default: silent.
func WithLogger(l *slog.Logger) OpenOption {
	return func(c *OpenConfig) error {
		if l == nil {
			return Invalidf("WithLogger: nil logger")
		}
		c.Logger = l
		return nil
	}
}

func newOpenConfig(opts []OpenOption) (OpenConfig, error) {
	var c OpenConfig
	for _, o := range opts {
		if o == nil {
			return c, Invalidf("nil OpenOption")
		}
		if err := o(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}

var (
	registryMu sync.RWMutex
	registry   = map[string]Opener{}
)

// Register makes a backend reachable by URL scheme. It panics when the scheme
// is taken, as database/sql.Register does: that is a programming error found
// at start-up, never a runtime condition.
func Register(scheme string, o Opener) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[scheme]; dup {
		panic("brokerkit: Register called twice for scheme " + scheme)
	}
	registry[scheme] = o
}

// Schemes lists the registered URL schemes, sorted.
func Schemes() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	s := make([]string, 0, len(registry))
	for k := range registry {
		s = append(s, k)
	}
	slices.Sort(s)
	return s
}

func lookup(rawURL string, opts []OpenOption) (Opener, *url.URL, OpenConfig, error) {
	cfg, err := newOpenConfig(opts)
	if err != nil {
		return nil, nil, cfg, err
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse quotes the whole URL, password included; say less.
		return nil, nil, cfg, Invalidf("malformed broker URL %s", RedactString(rawURL))
	}
	if u.Scheme == "" {
		return nil, nil, cfg, Invalidf("broker URL %s has no scheme (want one of %s)", u.Redacted(), strings.Join(Schemes(), ", "))
	}
	registryMu.RLock()
	o, ok := registry[u.Scheme]
	registryMu.RUnlock()
	if !ok {
		return nil, nil, cfg, Invalidf("unknown broker URL scheme %q in %s (registered: %s; did you import the backend?)",
			u.Scheme, u.Redacted(), strings.Join(Schemes(), ", "))
	}
	return o, u, cfg, nil
}

// OpenPublisher opens a publisher for a broker URL such as "mem://",
// "kafka://host:9092" or "amqp://user:pass@host:5672/vhost".
func OpenPublisher(ctx context.Context, rawURL string, opts ...OpenOption) (Publisher, error) {
	o, u, cfg, err := lookup(rawURL, opts)
	if err != nil {
		return nil, err
	}
	return o.OpenPublisher(ctx, u, cfg)
}

// OpenSubscriber opens a subscriber for a broker URL.
func OpenSubscriber(ctx context.Context, rawURL string, opts ...OpenOption) (Subscriber, error) {
	o, u, cfg, err := lookup(rawURL, opts)
	if err != nil {
		return nil, err
	}
	return o.OpenSubscriber(ctx, u, cfg)
}
