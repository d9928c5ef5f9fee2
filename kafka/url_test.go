package kafka

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/brokerkit/brokerkit/transport"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url     string
		brokers string
		wantErr string // substring; "" means no error
	}{
		{"kafka://a:9092", "a:9092", ""},
		{"kafka://a:9092,b:9093/", "a:9092,b:9093", ""},
		{"kafka://a", "a:9092", ""},
		{"kafka://a:9092?acks=one&compression=zstd&balancer=crc32&client_id=x", "a:9092", ""},
		{"kafka://u:secret@a:9092?sasl=scram-sha-512&tls=true", "a:9092", ""},
		{"kafka://u:secret@a:9092?sasl=PLAIN", "a:9092", ""},
		{"kafka://a:9092?partitions=3&replication_factor=1&commit_interval=2s", "a:9092", ""},
		{"kafka://a:9092?heartbeat_interval=1s&session_timeout=10s&rebalance_timeout=10s&fetch_max_wait=100ms", "a:9092", ""},
		{"kafka://a:9092?fetch_linger=0s", "a:9092", ""},
		{"kafka://a:9092?fetch_linger=-1ms", "", "WithFetchLinger"},
		{"kafka://a:9092?fetch_linger=500us", "", "WithFetchLinger"},
		{"kafka://a:9092?fetch_max_wait=500us", "", "WithFetchMaxWait"},
		{"kafka://a:9092?max_message_bytes=100&batch_bytes=1000&max_attempts=3&fetch_max_bytes=10", "a:9092", ""},
		{"kafka://", "", "no broker address"},
		{"kafka://a:9092/path", "", "unexpected path"},
		{"kafka://a:9092,,b:1", "", "empty broker address"},
		{"kafka://a:9092?acks=some", "", `acks="some"`},
		{"kafka://a:9092?acks=all&bogus=1", "", `unknown option "bogus"`},
		{"kafka://a:9092?compression=brotli", "", "compression"},
		{"kafka://a:9092?balancer=sticky", "", "balancer"},
		{"kafka://a:9092?sasl=plain", "", "needs a user"},
		{"kafka://u:secret@a:9092", "", "no sasl mechanism"},
		{"kafka://u:secret@a:9092?sasl=gssapi", "", "unknown SASL mechanism"},
		{"kafka://a:9092?create_topics=false", "a:9092", ""},
		{"kafka://a:9092?create_topics=false&replication_factor=3", "", "need create_topics=true"},
		{"kafka://a:9092?partitions=0", "", "WithCreateTopics"},
		{"kafka://a:9092?create_topics=3", "", "not a boolean"},
		{"kafka://a:9092?commit_interval=soon", "", "not a duration"},
		{"kafka://a:9092?commit_interval=-1s", "", "not positive"},
		{"kafka://a:9092?max_attempts=x", "", "not an integer"},
		{"kafka://a:9092?fetch_max_bytes=2000000000", "", "more than 1 GiB"},
		{"kafka://a:9092?tls_ca=/nonexistent/ca.pem", "", "no such file"},
		{"amqp://a:9092", "", "scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			u, err := url.Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			brokers, _, err := ParseURL(u)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if got := strings.Join(brokers, ","); got != tt.brokers {
					t.Fatalf("brokers %q, want %q", got, tt.brokers)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if !errors.Is(err, transport.ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"kafka://a:9092", "kafka://u:p@a:1,b:2?sasl=plain&tls=1", "kafka://a?acks=none&partitions=2",
		"kafka://a?commit_interval=1s&bogus", "kafka://:0?balancer=hash",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != Scheme {
			return
		}
		brokers, opts, err := ParseURL(u)
		if err != nil {
			if !errors.Is(err, transport.ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			// A short password, or one that also appears elsewhere in the URL,
			// may match the message by chance.
			if p, ok := u.User.Password(); ok && len(p) >= 8 && !strings.Contains(u.Redacted(), p) &&
				strings.Contains(err.Error(), p) {
				t.Fatalf("error shows the password: %v", err)
			}
			return
		}
		if len(brokers) == 0 {
			t.Fatal("no brokers and no error")
		}
		if _, err := newConfig(anyRole, brokers, opts); err != nil {
			t.Fatalf("ParseURL accepted options that newConfig refuses: %v", err)
		}
	})
}
