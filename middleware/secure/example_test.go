package secure_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/brokerkit/brokerkit/memory"
	"github.com/brokerkit/brokerkit/middleware"
	"github.com/brokerkit/brokerkit/middleware/secure"
	"github.com/brokerkit/brokerkit/transport"
)

// Encrypted and signed messages on the memory broker: the producer seals
// and signs, the consumer verifies and opens; the broker only ever holds
// ciphertext. A message copied to another topic is refused and
// dead-lettered after one attempt, with the reason.
func Example() {
	ctx := context.Background()
	broker, err := memory.New()
	if err != nil {
		panic(err)
	}
	defer broker.Close()

	// Keys would come from the environment, a file or a KMS
	// (Keyring.Load); here they are made on the spot.
	encKey, _ := secure.GenerateKey("enc-2026-11")
	sigKey, _ := secure.GenerateKey("orders-svc-1")
	encRing, _ := secure.NewKeyring(encKey)
	signRing, _ := secure.NewKeyring(sigKey)
	trusted, _ := secure.PublicKeys(signRing) // what consumers get

	seal, err := secure.Seal(encRing)
	if err != nil {
		panic(err)
	}
	sign, err := secure.Sign(secure.Ed25519, signRing)
	if err != nil {
		panic(err)
	}
	pub := transport.ChainPublisher(broker, seal, sign)

	verify, _ := secure.Verify(secure.Ed25519, trusted)
	open, _ := secure.Open(encRing)
	dlq, _ := middleware.DeadLetter(broker)

	done := make(chan struct{}, 3)
	handle := func(_ context.Context, m *transport.Message) error {
		fmt.Printf("%s got %q\n", m.Topic, m.Payload)
		done <- struct{}{}
		return nil
	}
	h := transport.Chain(handle, dlq, verify, open)
	for _, topic := range []string{"orders", "refunds"} {
		if _, err := broker.Subscribe(ctx, topic, h, transport.WithGroup("billing")); err != nil {
			panic(err)
		}
	}
	var onBroker *transport.Message
	spy := func(_ context.Context, m *transport.Message) error {
		onBroker = m.Copy()
		done <- struct{}{}
		return nil
	}
	if _, err := broker.Subscribe(ctx, "orders", spy, transport.WithGroup("spy")); err != nil {
		panic(err)
	}
	dead := func(_ context.Context, m *transport.Message) error {
		fmt.Printf("dead-lettered from %s: %s\n", m.Metadata.Get(middleware.MetaDLQTopic), m.Metadata.Get(middleware.MetaDLQReason))
		done <- struct{}{}
		return nil
	}
	if _, err := broker.Subscribe(ctx, "refunds.dlq", dead, transport.WithGroup("ops")); err != nil {
		panic(err)
	}

	msg := &transport.Message{ID: "order-1", Payload: []byte("pay 10 EUR to Zoë")}
	if err := pub.Publish(ctx, "orders", msg); err != nil {
		panic(err)
	}
	<-done
	<-done
	fmt.Printf("on the broker: %d bytes of ciphertext, key %s, signed by %s\n",
		len(onBroker.Payload), onBroker.Metadata.Get(secure.HeaderEncKeyID), onBroker.Metadata.Get(secure.HeaderSigKeyID))

	// Someone copies the message to another topic.
	copied := onBroker.Copy()
	if err := broker.Publish(ctx, "refunds", copied); err != nil {
		panic(err)
	}
	<-done
	// Output:
	// orders got "pay 10 EUR to Zoë"
	// on the broker: 46 bytes of ciphertext, key enc-2026-11, signed by orders-svc-1
	// dead-lettered from refunds: secure: verify message "order-1" of topic "refunds": bad signature (key "orders-svc-1"): the topic, ID, key, a signed header or the payload was changed, or another key signed it
}

// Rotation: consumers learn the new key first, producers switch to it, and
// the old key is retired once its messages are read.
func ExampleKeyring_rotation() {
	k1, _ := secure.GenerateKey("k1")
	k2, _ := secure.GenerateKey("k2")
	producer, _ := secure.NewKeyring(k1)
	consumer, _ := secure.NewKeyring(k1)

	_ = consumer.Add(k2) // 1. consumers open k1 and k2
	_ = producer.Add(k2) // 2. producers seal with k2
	_ = producer.SetPrimary("k2")
	_ = consumer.SetPrimary("k2") // 3. k1 retired: its messages are refused
	_ = consumer.Retire("k1")

	fmt.Println(producer.Primary(), consumer.IDs())
	// Output: k2 [k2]
}

// Keys from the environment: ID=BASE64 entries, the first one primary,
// "!ID" for a retired key.
func ExampleEnvKeys() {
	os.Setenv("EXAMPLE_BROKERKIT_KEYS", "k2=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,k1=HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4=,!k0")
	defer os.Unsetenv("EXAMPLE_BROKERKIT_KEYS")
	ring, _ := secure.NewKeyring()
	if err := ring.Load(context.Background(), secure.EnvKeys("EXAMPLE_BROKERKIT_KEYS")); err != nil {
		panic(err)
	}
	k, _ := secure.ParseKeys(os.Getenv("EXAMPLE_BROKERKIT_KEYS"))
	fmt.Println(ring.Primary(), ring.IDs(), k.Retired)
	fmt.Println(k.Keys[0]) // a Key prints without its material
	// Output:
	// k2 [k1 k2] [k0]
	// secure.Key{ID: "k2", 32 bytes}
}

// A refused message's error says why; errors.As reaches it.
func ExampleError() {
	ring, _ := secure.NewKeyring()
	open, _ := secure.Open(ring)
	h := open(func(context.Context, *transport.Message) error { return nil })
	err := h(context.Background(), &transport.Message{ID: "m1", Topic: "orders", Payload: []byte("clear")})
	var se *secure.Error
	fmt.Println(errors.As(err, &se), se.Reason, transport.CodeOf(err))
	fmt.Println(err)
	// Output:
	// true not sealed Permanent
	// secure: open message "m1" of topic "orders": not sealed: no bk-enc header
}
