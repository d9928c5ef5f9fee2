package driver

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/brokerkit/brokerkit/transport"
)

// Query reads a URL's options for a backend. Each getter marks its key as
// known; Err then reports every malformed value and every key nobody asked
// for, so that a misspelt option is an error rather than silently ignored.
//
//	q := driver.NewQuery(u)
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
	return transport.Invalidf("broker URL: %s (known options: %s)", strings.Join(errs, "; "), strings.Join(known, ", "))
}
