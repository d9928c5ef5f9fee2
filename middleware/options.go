package middleware

import "github.com/brokerkit/brokerkit/transport"

// apply runs functional options over a config, rejecting nil ones, so that
// every constructor validates the same way and never panics.
func apply[C any, O ~func(*C) error](c *C, opts []O) error {
	for _, o := range opts {
		if o == nil {
			return transport.Invalidf("nil option")
		}
		if err := o(c); err != nil {
			return err
		}
	}
	return nil
}
