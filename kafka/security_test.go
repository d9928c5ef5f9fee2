package kafka_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/brokerkit/brokerkit/brokertest"
	"github.com/brokerkit/brokerkit/transport"
	"github.com/brokerkit/brokerkit/transport/transporttest"
)

// selfSigned returns a server TLS config for 127.0.0.1 and the path of a
// PEM file holding its certificate, for clients to trust.
func selfSigned(t *testing.T) (*tls.Config, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "kfake"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, caFile
}

// TestSASLAndTLS runs publish and subscribe, by URL, over TLS with each SASL
// mechanism against kfake, and checks that bad credentials and a refused
// certificate fail at once as ErrUnauthorized, without the password in the
// error. (kfake closes the connection on bad credentials instead of
// answering SASL_AUTHENTICATION_FAILED as Apache Kafka does; the backend
// tells the two apart.)
func TestSASLAndTLS(t *testing.T) {
	serverTLS, caFile := selfSigned(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(serverTLS), kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "plain-user", "plain-pass"),
		kfake.Superuser("SCRAM-SHA-256", "scram256-user", "scram256-pass"),
		kfake.Superuser("SCRAM-SHA-512", "scram512-user", "scram512-pass"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	query := "tls_ca=" + url.QueryEscape(caFile) + "&partitions=2&sasl="

	for _, mech := range []struct{ name, user, pass string }{
		{"plain", "plain-user", "plain-pass"},
		{"scram-sha-256", "scram256-user", "scram256-pass"},
		{"scram-sha-512", "scram512-user", "scram512-pass"},
	} {
		t.Run(mech.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			u := "kafka://" + mech.user + ":" + mech.pass + "@" + addr + "?" + query + mech.name
			pub, err := transport.OpenPublisher(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			defer pub.Close()
			sub, err := transport.OpenSubscriber(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			topic := brokertest.Name(t, "secure")
			col := transporttest.NewCollector(nil)
			s, err := sub.Subscribe(ctx, topic, col.Handle, transport.WithGroup(brokertest.Name(t, "g")))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := pub.Publish(ctx, topic, &transport.Message{Key: "k", Payload: []byte(mech.name)}); err != nil {
				t.Fatal(err)
			}
			if got := string(col.WaitAll(t, 1, wait)[0].Payload); got != mech.name {
				t.Fatalf("got %q", got)
			}

			// Wrong password: refused at once, not retried as an outage
			// until the context ends.
			bad := strings.Replace(u, mech.pass, "wrong-password-123", 1)
			badPub, err := transport.OpenPublisher(ctx, bad)
			if err != nil {
				t.Fatal(err)
			}
			defer badPub.Close()
			err = badPub.Publish(ctx, topic, &transport.Message{Payload: []byte("x")})
			if !errors.Is(err, transport.ErrUnauthorized) || transport.Retryable(err) || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("publish with a wrong password: %v, want a permanent ErrUnauthorized before the deadline", err)
			}
			if strings.Contains(err.Error(), "wrong-password-123") {
				t.Fatalf("error shows the password: %v", err)
			}
			badSub, err := transport.OpenSubscriber(ctx, bad)
			if err != nil {
				t.Fatal(err)
			}
			defer badSub.Close()
			_, err = badSub.Subscribe(ctx, topic, col.Handle, transport.WithGroup("g"))
			if !errors.Is(err, transport.ErrUnauthorized) || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("subscribe with a wrong password: %v, want ErrUnauthorized before the deadline", err)
			}
		})
	}

	t.Run("certificate refused", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		// tls=true trusts the system's roots, which do not hold kfake's
		// self-signed certificate.
		pub, err := transport.OpenPublisher(ctx, "kafka://plain-user:plain-pass@"+addr+"?tls=true&sasl=plain")
		if err != nil {
			t.Fatal(err)
		}
		defer pub.Close()
		err = pub.Publish(ctx, "any", &transport.Message{Payload: []byte("x")})
		if !errors.Is(err, transport.ErrUnauthorized) || transport.Retryable(err) || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("publish to a broker with an untrusted certificate: %v, want a permanent ErrUnauthorized before the deadline", err)
		}
	})

	t.Run("plain TCP to a TLS listener", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		pub, err := transport.OpenPublisher(ctx, "kafka://plain-user:plain-pass@"+addr+"?sasl=plain")
		if err != nil {
			t.Fatal(err)
		}
		defer pub.Close()
		if err := pub.Publish(ctx, "any", &transport.Message{Payload: []byte("x")}); err == nil {
			t.Fatal("publish without TLS to a TLS broker succeeded")
		}
	})
}
