package amqp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/brokerkit/brokerkit/internal/backoff"
	"github.com/brokerkit/brokerkit/transport"
)

// connector owns the AMQP connection of one Publisher or Subscriber. It
// dials lazily, and again after the connection is lost: whoever needs the
// connection next (a Publish, a subscription's Receive) redials, with
// backoff, so there is no background reconnect goroutine to stop.
//
// brokerkit does this itself rather than with amqp091-go's Config.Recovery:
// that feature is marked experimental, and it reopens channels in place,
// where delivery tags and publish sequence numbers start again at 1, so a
// late ack of an old delivery could ack a different message and old
// confirms could be matched to new publishes. Here every lost channel is
// replaced by a new *amqp.Channel: deliveries and confirms of the old one
// can only ever reach the old one, which is closed.
type connector struct {
	cfg  *config
	role string // "publisher" or "subscriber", for logs

	life context.Context // ends on close: cancels dials in progress
	stop context.CancelFunc

	// order is cfg.targets in the order this connector tries them (its
	// own shuffle with WithShuffledAddresses); next is where the next dial
	// starts: after the address of the last connection, so that a lost
	// connection moves on to another node of a cluster.
	order []target

	mu        sync.Mutex
	next      int
	addr      string // the address of conn
	conn      *amqp.Connection
	gen       uint64        // counts connections, so that topology caches know a new one
	dialing   chan struct{} // non-nil while a dial is in progress; closed when it ends
	lastErr   error         // why the last dial failed
	unblocked chan struct{} // non-nil while the broker blocks publishers; closed when it stops
	blocked   atomic.Bool   // unblocked != nil, read without the lock on every publish
	closed    bool
}

func newConnector(cfg *config, role string) *connector {
	c := &connector{cfg: cfg, role: role, order: slices.Clone(cfg.targets)}
	if cfg.shuffle {
		rand.Shuffle(len(c.order), func(i, j int) { c.order[i], c.order[j] = c.order[j], c.order[i] })
	}
	c.life, c.stop = context.WithCancel(context.Background())
	if cfg.adopted != nil {
		c.conn = cfg.adopted
		c.gen = 1
		c.watchBlocked(cfg.adopted)
	}
	return c
}

// get returns an open connection and its generation, dialing when there is
// none. Refused credentials and other errors that no retry fixes return at
// once; an unreachable broker is retried with backoff until ctx ends.
func (c *connector) get(ctx context.Context) (*amqp.Connection, uint64, error) {
	b := backoff.Backoff{Min: c.cfg.reconnectMin, Max: c.cfg.reconnectMax}
	var last error
	for {
		c.mu.Lock()
		switch {
		case c.closed:
			c.mu.Unlock()
			return nil, 0, transport.ErrClosed
		case c.conn != nil && !c.conn.IsClosed():
			conn, gen := c.conn, c.gen
			c.mu.Unlock()
			return conn, gen, nil
		case c.cfg.adopted != nil:
			// The owner reconnects an adopted connection (amqp091-go's
			// Recovery) or not; brokerkit only waits for it to reopen.
			c.mu.Unlock()
			last = transport.NewError(transport.CodeUnavailable, "connect",
				errors.New("the adopted *amqp091.Connection is closed"))
		case c.dialing != nil:
			wait := c.dialing
			c.mu.Unlock()
			select {
			case <-wait:
			case <-ctx.Done():
				return nil, 0, classify.DeadlineError("connect", ctx, last)
			}
			c.mu.Lock()
			ok := c.conn != nil && !c.conn.IsClosed()
			last = c.lastErr
			c.mu.Unlock()
			if ok || last == nil {
				continue
			}
			if !classify.Retryable(last) {
				return nil, 0, classify.Wrap("connect", last)
			}
		default:
			c.dialing = make(chan struct{})
			start := c.next
			c.mu.Unlock()
			conn, at, err := c.dialAny(ctx, start)
			c.mu.Lock()
			if err == nil && c.closed {
				conn.Close()
				err = transport.ErrClosed
			}
			if err == nil {
				c.conn = conn
				c.addr = c.order[at].addr
				c.next = (at + 1) % len(c.order)
				c.gen++
				if c.unblocked != nil { // a new connection is not blocked
					close(c.unblocked)
					c.unblocked = nil
					c.blocked.Store(false)
				}
			}
			c.lastErr = err
			close(c.dialing)
			c.dialing = nil
			gen := c.gen
			c.mu.Unlock()
			if err == nil {
				c.watchBlocked(conn)
				c.cfg.logger.Info("amqp: connected", "role", c.role, "url", c.cfg.redacted, "addr", c.order[at].addr)
				return conn, gen, nil
			}
			if ctx.Err() != nil {
				return nil, 0, classify.DeadlineError("connect", ctx, err)
			}
			if !classify.Retryable(err) {
				return nil, 0, classify.Wrap("connect", err)
			}
			last = err
			c.cfg.logger.Warn("amqp: connecting failed; retrying", "role", c.role, "url", c.cfg.redacted, "err", err)
		}
		if !b.Wait(ctx) {
			return nil, 0, classify.DeadlineError("connect", ctx, last)
		}
	}
}

// dialAny tries each address once, from order[start] on, and returns the
// first connection opened and its index in order. An error that another
// node would give too (refused credentials, an unknown vhost) ends the
// round at once; when no address answers, the error names each address
// tried and why it failed.
func (c *connector) dialAny(ctx context.Context, start int) (*amqp.Connection, int, error) {
	var failed []error
	for k := range c.order {
		i := (start + k) % len(c.order)
		t := c.order[i]
		conn, err := c.dial(ctx, t)
		if err == nil {
			return conn, i, nil
		}
		if ctx.Err() != nil || c.life.Err() != nil || errors.Is(err, transport.ErrClosed) {
			return nil, 0, err
		}
		if len(c.order) == 1 {
			return nil, 0, err // its errors name the address already
		}
		if !classify.Retryable(err) {
			return nil, 0, fmt.Errorf("%s: %w", t.addr, err)
		}
		failed = append(failed, fmt.Errorf("%s: %w", t.addr, err))
		c.cfg.logger.Warn("amqp: connecting failed; trying the next address", "role", c.role, "addr", t.addr, "err", err)
	}
	return nil, 0, &dialError{errs: failed}
}

// dialError is a round of dials in which no address answered.
type dialError struct{ errs []error }

func (e *dialError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "no broker answered (%d addresses tried)", len(e.errs))
	for _, err := range e.errs {
		b.WriteString("; ")
		b.WriteString(err.Error())
	}
	return b.String()
}

// Unwrap keeps each address's error reachable (errors.Is, errors.As), so
// that the classifier sees network errors as retryable.
func (e *dialError) Unwrap() []error { return e.errs }

// dial opens a connection to t, giving up when ctx ends or the connector
// closes, also in the middle of the TLS or AMQP handshake.
func (c *connector) dial(ctx context.Context, t target) (*amqp.Connection, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(c.life, cancel)()

	var (
		mu  sync.Mutex
		raw net.Conn
	)
	interrupt := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if raw != nil {
			_ = raw.SetDeadline(time.Unix(1, 0)) // fails the handshake's next read or write
		}
	})
	props := amqp.NewConnectionProperties()
	if c.cfg.connName != "" {
		props.SetClientConnectionName(c.cfg.connName)
	}
	var tlsCfg *tls.Config
	if c.cfg.tls != nil {
		tlsCfg = c.cfg.tls.Clone() // amqp091-go sets ServerName on it
	}
	timeout := c.cfg.connectTimeout
	conn, err := amqp.DialConfig(t.url, amqp.Config{
		Properties:      props,
		TLSClientConfig: tlsCfg,
		Dial: func(network, addr string) (net.Conn, error) {
			d := net.Dialer{Timeout: timeout}
			nc, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			// Bounds the handshakes; amqp091-go clears it once the
			// connection is open, and heartbeats take over. The end of
			// ctx interrupts them earlier (interrupt, above), so that the
			// error then is ctx's.
			_ = nc.SetDeadline(time.Now().Add(timeout))
			mu.Lock()
			raw = nc
			mu.Unlock()
			if err := ctx.Err(); err != nil { // ended before raw was set
				nc.Close()
				return nil, err
			}
			return nc, nil
		},
	})
	if !interrupt() {
		// ctx ended during the dial: whatever came of it, give up.
		if err == nil {
			conn.Close()
		}
		if c.life.Err() != nil {
			return nil, transport.ErrClosed
		}
		return nil, context.Cause(ctx)
	}
	if err != nil {
		return nil, err
	}
	return conn, nil
}

// watchBlocked follows connection.blocked and connection.unblocked, which
// RabbitMQ sends when a resource alarm (memory, disk) stops publishers. The
// goroutine ends when the connection closes (amqp091-go then closes the
// notification channel), also for an adopted connection, whose notification
// channel cannot be unregistered: it lives as long as that connection.
func (c *connector) watchBlocked(conn *amqp.Connection) {
	blocks := conn.NotifyBlocked(make(chan amqp.Blocking, 1))
	go func() {
		for b := range blocks {
			c.setBlocked(conn, b.Active, b.Reason)
		}
		c.setBlocked(conn, false, "")
	}()
}

func (c *connector) setBlocked(conn *amqp.Connection, active bool, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if conn != c.conn {
		return // an old connection; the new one was not blocked
	}
	switch {
	case active && c.unblocked == nil:
		c.unblocked = make(chan struct{})
		c.blocked.Store(true)
		c.cfg.logger.Warn("amqp: the broker blocks publishing", "reason", reason)
	case !active && c.unblocked != nil:
		close(c.unblocked)
		c.unblocked = nil
		c.blocked.Store(false)
		c.cfg.logger.Info("amqp: the broker unblocked publishing")
	}
}

// waitUnblocked returns once the broker does not block publishers, or with
// ctx's error: a blocked broker stops reading, so writing now would only fill
// buffers.
func (c *connector) waitUnblocked(ctx context.Context) error {
	if !c.blocked.Load() {
		return nil
	}
	c.mu.Lock()
	ch := c.unblocked
	c.mu.Unlock()
	if ch == nil {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return transport.NewError(transport.CodeUnavailable, "publish",
			errors.Join(ctx.Err(), errors.New("the broker blocks publishing (connection.blocked: a resource alarm)")))
	}
}

// close closes the connection, unless it was adopted, and stops dials in
// progress. It is idempotent.
func (c *connector) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	conn := c.conn
	c.mu.Unlock()
	c.stop()
	if conn != nil && c.cfg.adopted == nil {
		_ = conn.Close()
	}
}
