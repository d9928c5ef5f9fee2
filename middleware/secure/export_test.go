package secure

import "io"

// WithNonceSource replaces crypto/rand as the source of nonces, for the test
// vectors only: a fixed nonce in production would break AES-GCM.
func WithNonceSource(r io.Reader) Option {
	return func(c *config) error {
		c.nonce = r
		return nil
	}
}
