package transport

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
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
		return nil, nil, cfg, Invalidf("broker URL %s has no scheme (want one of %s)", Redact(u), strings.Join(Schemes(), ", "))
	}
	registryMu.RLock()
	o, ok := registry[u.Scheme]
	registryMu.RUnlock()
	if !ok {
		return nil, nil, cfg, Invalidf("unknown broker URL scheme %q in %s (registered: %s; did you import the backend?)",
			u.Scheme, Redact(u), strings.Join(Schemes(), ", "))
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

// Query reads a URL's options for a backend. Each getter marks its key as
// known; Err then reports every malformed value and every key nobody asked
// for, so that a misspelt option is an error rather than silently ignored.
//
//	q := transport.NewQuery(u)
//	size := q.Int("max_payload", 1<<20)
//	if err := q.Err(); err != nil { ... }
type Query struct {
	values url.Values
	known  map[string]bool
	errs   []string
}

// NewQuery starts reading u's query string.
func NewQuery(u *url.URL) *Query {
	return &Query{values: u.Query(), known: map[string]bool{}}
}

// String returns the value of key, or def when absent.
func (q *Query) String(key, def string) string {
	q.known[key] = true
	if v, ok := q.values[key]; ok && len(v) > 0 {
		return v[len(v)-1]
	}
	return def
}

// Has reports whether key is present, and marks it known.
func (q *Query) Has(key string) bool {
	q.known[key] = true
	_, ok := q.values[key]
	return ok
}

// Int returns the integer value of key, or def when absent.
func (q *Query) Int(key string, def int) int {
	s := q.String(key, "")
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		q.errs = append(q.errs, fmt.Sprintf("%s=%q is not an integer", key, s))
		return def
	}
	return n
}

// Bool returns the boolean value of key ("true", "1", "false", "0"...), or def.
func (q *Query) Bool(key string, def bool) bool {
	s := q.String(key, "")
	if s == "" {
		return def
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		q.errs = append(q.errs, fmt.Sprintf("%s=%q is not a boolean", key, s))
		return def
	}
	return b
}

// Duration returns the value of key parsed by time.ParseDuration, or def.
func (q *Query) Duration(key string, def time.Duration) time.Duration {
	s := q.String(key, "")
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		q.errs = append(q.errs, fmt.Sprintf("%s=%q is not a duration", key, s))
		return def
	}
	return d
}

// Fail records a problem with an option's value that the backend found.
func (q *Query) Fail(format string, args ...any) {
	q.errs = append(q.errs, fmt.Sprintf(format, args...))
}

// Err returns an ErrInvalid error naming every bad value and unknown option,
// or nil.
func (q *Query) Err() error {
	errs := slices.Clone(q.errs)
	var unknown []string
	for k := range q.values {
		if !q.known[k] {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		errs = append(errs, fmt.Sprintf("unknown option %q", k))
	}
	if len(errs) == 0 {
		return nil
	}
	known := make([]string, 0, len(q.known))
	for k := range q.known {
		known = append(known, k)
	}
	slices.Sort(known)
	return Invalidf("broker URL: %s (known options: %s)", strings.Join(errs, "; "), strings.Join(known, ", "))
}
