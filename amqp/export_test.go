package amqp

// Hooks for the external tests (package amqp_test).

// SetBlocked makes p behave as if the broker sent connection.blocked (or
// connection.unblocked) on its current connection, which a test cannot make
// RabbitMQ do without raising a resource alarm for every client.
func SetBlocked(p *Publisher, active bool) {
	p.conn.mu.Lock()
	conn := p.conn.conn
	p.conn.mu.Unlock()
	p.conn.setBlocked(conn, active, "test")
}

// Decode is decode, for fuzzing the header mapping.
var Decode = decode

// ConnectedAddr is the host:port of p's current connection ("" before the
// first).
func ConnectedAddr(p *Publisher) string {
	p.conn.mu.Lock()
	defer p.conn.mu.Unlock()
	return p.conn.addr
}

// SubscriberAddr is the host:port of s's current connection.
func SubscriberAddr(s *Subscriber) string {
	s.conn.mu.Lock()
	defer s.conn.mu.Unlock()
	return s.conn.addr
}

// Targets lists the addresses p dials, in its order.
func Targets(p *Publisher) []string {
	var out []string
	for _, t := range p.conn.order {
		out = append(out, t.addr)
	}
	return out
}

// Channels returns the channels of p's slots (nil for a slot without one).
func Channels(p *Publisher) []any {
	var out []any
	for range cap(p.slots) {
		s := <-p.slots
		defer func() { p.slots <- s }()
		if s.ch != nil {
			out = append(out, s.ch)
		} else {
			out = append(out, nil)
		}
	}
	return out
}
