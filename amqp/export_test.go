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
