package kafka_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/brokerkit/brokerkit/brokertest"
	"github.com/brokerkit/brokerkit/kafka"
	"github.com/brokerkit/brokerkit/transport"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestBrokerRestart stops the broker mid-stream and starts it again on the
// same port and data: publishing and consuming resume by themselves, and no
// message whose Publish returned nil is lost.
func TestBrokerRestart(t *testing.T) {
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(freePort(t)), kfake.DataDir(t.TempDir())}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	var clusterMu sync.Mutex
	t.Cleanup(func() {
		clusterMu.Lock()
		defer clusterMu.Unlock()
		cluster.Close()
	})
	brokers := cluster.ListenAddrs()
	topic := brokertest.KafkaTopic(t, brokers, 2)

	// kafka-go forgets its member ID when a join fails, so after the outage
	// it joins as a new member and the group waits out the old one's
	// session: keep it short (kfake's minimum is 6s).
	kopts := []kafka.SubscriberOption{kafka.WithHeartbeatInterval(200 * time.Millisecond), kafka.WithCommitInterval(50 * time.Millisecond),
		kafka.WithSessionTimeout(6 * time.Second)}
	pub, sub := newPairWith(t, brokers, nil, kopts)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	var mu sync.Mutex
	received := map[string]bool{}
	changed := make(chan struct{}, 1)
	s, err := sub.Subscribe(ctx, topic, func(_ context.Context, m *transport.Message) error {
		mu.Lock()
		received[m.ID] = true
		mu.Unlock()
		select {
		case changed <- struct{}{}:
		default:
		}
		return nil
	}, transport.WithGroup(brokertest.Name(t, "g")))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// Publish one message at a time; remember those Publish confirmed.
	var confirmed []string
	failures := 0
	publish := func(n int) {
		for i := range n {
			m := &transport.Message{Key: fmt.Sprint("k", i%5), Payload: []byte(fmt.Sprint(i))}
			pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
			err := pub.Publish(pctx, topic, m)
			pcancel()
			if err == nil {
				confirmed = append(confirmed, m.ID)
			} else {
				failures++
			}
		}
	}
	publish(50)

	restarted := make(chan struct{})
	go func() {
		defer close(restarted)
		clusterMu.Lock()
		defer clusterMu.Unlock()
		cluster.Close()
		time.Sleep(300 * time.Millisecond)
		var err error
		// The port may linger a moment after close.
		for range 50 {
			if cluster, err = kfake.NewCluster(opts...); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("restarting the broker: %v", err)
	}()
	publish(100) // some during the outage, some after
	<-restarted
	publish(50)
	if len(confirmed) < 100 {
		t.Fatalf("only %d of 200 publishes confirmed after the broker came back", len(confirmed))
	}

	missing := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, id := range confirmed {
			if !received[id] {
				n++
			}
		}
		return n
	}
	for missing() > 0 {
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("%d confirmed messages never delivered", missing())
		}
	}
	t.Logf("%d publishes confirmed, %d failed during the outage; every confirmed message delivered", len(confirmed), failures)
}
