package brokertest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestRabbitMQCluster forms a three-node cluster (about a minute on two
// cores, so it runs with the fault suite: BROKERTEST_FAULTS=full, `make
// faults`), declares a quorum queue through node 1 and checks that all
// three nodes hold a replica, and that the queue keeps working through
// node 3 while node 1 is killed.
func TestRabbitMQCluster(t *testing.T) {
	if os.Getenv("BROKERTEST_FAULTS") != "full" {
		t.Skip("the three-node cluster takes about a minute to form: BROKERTEST_FAULTS=full (make faults) runs it")
	}
	c := NewRabbitMQCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	q := Name(t, "qq")
	conn, err := amqp.Dial("amqp://guest:guest@" + c.Addr(0) + "/")
	if err != nil {
		t.Fatal(err)
	}
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(q, true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	out, err := c.Node(2).Exec(ctx, "rabbitmq-queues", "quorum_status", q)
	if err != nil {
		t.Fatal(err)
	}
	for i := range c.Size() {
		if !strings.Contains(out, c.NodeName(i)) {
			t.Errorf("%s holds no replica of %s:\n%s", c.NodeName(i), q, out)
		}
	}

	if err := c.Node(0).Kill(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err = amqp.Dial("amqp://guest:guest@" + c.Addr(2) + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err = conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	// Until a new leader is elected, the queue nacks: publish until acked,
	// on a new channel after each nack.
	killed := time.Now()
	for {
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", q, false, false, amqp.Publishing{Body: []byte("x")})
		if err != nil {
			t.Fatal(err)
		}
		wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := dc.WaitContext(wctx)
		wcancel()
		if err == context.DeadlineExceeded {
			continue
		}
		if err != nil {
			t.Fatalf("publish to the quorum queue with node 1 dead: %v", err)
		}
		if ok {
			break
		}
		// RabbitMQ 3.10 nacks every publish on a channel that first
		// routed to the queue as its leader died; a new one is fine.
		ch.Close()
		if ch, err = conn.Channel(); err != nil {
			t.Fatal(err)
		}
		if err := ch.Confirm(false); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("node 1 killed: the quorum queue took a publish through node 3 after %v", time.Since(killed).Round(time.Millisecond))
	if _, ok, err := ch.Get(q, true); !ok || err != nil {
		t.Fatalf("get from the quorum queue with node 1 dead: ok=%v %v", ok, err)
	}
}
