package secure_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/brokerkit/brokerkit/middleware/secure"
	"github.com/brokerkit/brokerkit/transport"
)

// BenchmarkSecure measures the cost per message of the security middleware
// from Publish to the handler, with no broker in between: the publisher
// chain hands each message straight to the handler chain, as a backend
// would deliver it. "bare" is the same loop without the middleware, the
// baseline the others are compared with.
//
//	go test -run '^$' -bench Secure -benchmem ./middleware/secure/
func BenchmarkSecure(b *testing.B) {
	encRing := ring(b, key(b, "enc"))
	sigRing := ring(b, key(b, "sig"))
	pubRing := must[*secure.Keyring](b)(secure.PublicKeys(sigRing))
	seal := must[transport.PublisherMiddleware](b)(secure.Seal(encRing))
	open := must[transport.Middleware](b)(secure.Open(encRing))
	signEd := must[transport.PublisherMiddleware](b)(secure.Sign(secure.Ed25519, sigRing))
	verifyEd := must[transport.Middleware](b)(secure.Verify(secure.Ed25519, pubRing))
	signHMAC := must[transport.PublisherMiddleware](b)(secure.Sign(secure.HMACSHA256, sigRing))
	verifyHMAC := must[transport.Middleware](b)(secure.Verify(secure.HMACSHA256, sigRing))

	setups := []struct {
		name string
		pub  []transport.PublisherMiddleware
		h    []transport.Middleware
	}{
		{"bare", nil, nil},
		{"seal+open", []transport.PublisherMiddleware{seal}, []transport.Middleware{open}},
		{"sign+verify/hmac-sha256", []transport.PublisherMiddleware{signHMAC}, []transport.Middleware{verifyHMAC}},
		{"sign+verify/ed25519", []transport.PublisherMiddleware{signEd}, []transport.Middleware{verifyEd}},
		{"seal+sign+verify+open/ed25519", []transport.PublisherMiddleware{seal, signEd}, []transport.Middleware{verifyEd, open}},
	}
	for _, size := range []int{256, 1024, 64 << 10} {
		payload := make([]byte, size)
		for _, s := range setups {
			b.Run(s.name+"/"+strconv.Itoa(size), func(b *testing.B) {
				var handled int
				h := transport.Chain(func(_ context.Context, m *transport.Message) error {
					handled += len(m.Payload)
					return nil
				}, s.h...)
				loop := transport.PublisherFunc(func(ctx context.Context, topic string, msgs ...*transport.Message) error {
					for _, m := range msgs {
						d := *m
						d.Topic, d.Attempt = topic, 1
						if err := h(ctx, &d); err != nil {
							return err
						}
					}
					return nil
				})
				pub := transport.ChainPublisher(loop, s.pub...)
				ctx := context.Background()
				m := &transport.Message{Key: "customer-7", Payload: payload,
					Metadata: transport.Metadata{"content-type": "application/json", "correlation-id": "c-1"}}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					m.ID = "" // a new ID per message, as in real traffic
					if err := pub.Publish(ctx, "orders", m); err != nil {
						b.Fatal(err)
					}
				}
				if handled != b.N*size {
					b.Fatalf("handled %d bytes, want %d", handled, b.N*size)
				}
			})
		}
	}
}
