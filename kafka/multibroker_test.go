package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/brokerkit/brokerkit/brokertest"
	"github.com/brokerkit/brokerkit/kafka"
	"github.com/brokerkit/brokerkit/transport"
)

// flow publishes n messages from 4 goroutines, each retrying a message
// until Publish returns nil, into a group subscription, while disrupt runs
// when a third and two thirds are confirmed. It fails the test when a
// confirmed message is never handled.
func flow(t *testing.T, brokers []string, topic string, n int, disrupt func(step int)) {
	t.Helper()
	kopts := []kafka.SubscriberOption{kafka.WithHeartbeatInterval(200 * time.Millisecond),
		kafka.WithCommitInterval(50 * time.Millisecond), kafka.WithSessionTimeout(6 * time.Second)}
	pub, sub := newPairWith(t, brokers, nil, kopts)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	var (
		mu       sync.Mutex
		received = map[string]int{}
	)
	s, err := sub.Subscribe(ctx, topic, func(_ context.Context, m *transport.Message) error {
		mu.Lock()
		received[string(m.Payload)]++
		mu.Unlock()
		return nil
	}, transport.WithGroup(brokertest.Name(t, "g")))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	var (
		confirmed   sync.Map
		nConfirmed  atomic.Int64
		failedCalls atomic.Int64
		wg          sync.WaitGroup
	)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += 4 {
				payload := fmt.Sprint("m", i)
				for ctx.Err() == nil {
					pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
					err := pub.Publish(pctx, topic, &transport.Message{Key: fmt.Sprint("k", i%16), Payload: []byte(payload)})
					pcancel()
					if err == nil {
						confirmed.Store(payload, true)
						nConfirmed.Add(1)
						break
					}
					failedCalls.Add(1)
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	for step := 1; step <= 2; step++ {
		for nConfirmed.Load() < int64(n*step/3) && ctx.Err() == nil {
			time.Sleep(2 * time.Millisecond)
		}
		disrupt(step)
	}
	wg.Wait()
	if got := nConfirmed.Load(); got != int64(n) {
		t.Fatalf("%d of %d messages confirmed", got, n)
	}
	missing := func() (lost int) {
		mu.Lock()
		defer mu.Unlock()
		confirmed.Range(func(p, _ any) bool {
			if received[p.(string)] == 0 {
				lost++
			}
			return true
		})
		return lost
	}
	for missing() > 0 && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	dup := 0
	for _, c := range received {
		dup += c - 1
	}
	mu.Unlock()
	t.Logf("confirmed=%d lost=%d dup=%d failed publish calls=%d", nConfirmed.Load(), missing(), dup, failedCalls.Load())
	if lost := missing(); lost > 0 {
		t.Fatalf("%d confirmed messages were never handled", lost)
	}
	if err := s.Err(); err != nil {
		t.Errorf("the subscription ended: %v", err)
	}
}

func threeBrokers(t *testing.T) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestLeadershipMoves: with three brokers, every partition's leader moves
// to another broker (an election) twice while messages flow; the
// publisher's produce requests and the subscription's fetches that reach
// the old leader get NOT_LEADER_FOR_PARTITION, and both follow the new
// leader without losing a confirmed message.
func TestLeadershipMoves(t *testing.T) {
	c := threeBrokers(t)
	brokers := c.ListenAddrs()
	const partitions = 6
	topic := brokertest.KafkaTopic(t, brokers, partitions)
	// Besides the moves, the first produce and fetch requests after the
	// first move are answered NOT_LEADER_FOR_PARTITION outright, as a
	// broker that lost an election answers before metadata catches up.
	var notLeader atomic.Int32
	const injected = 6
	answerNotLeader := func(req kmsg.Request) (kmsg.Response, error, bool) {
		if notLeader.Load() >= injected {
			return nil, nil, false
		}
		c.KeepControl()
		switch req := req.(type) {
		case *kmsg.ProduceRequest:
			resp := req.ResponseKind().(*kmsg.ProduceResponse)
			for _, rt := range req.Topics {
				st := kmsg.NewProduceResponseTopic()
				st.Topic, st.TopicID = rt.Topic, rt.TopicID
				for _, rp := range rt.Partitions {
					sp := kmsg.NewProduceResponseTopicPartition()
					sp.Partition = rp.Partition
					sp.ErrorCode = kerr.NotLeaderForPartition.Code
					st.Partitions = append(st.Partitions, sp)
				}
				resp.Topics = append(resp.Topics, st)
			}
			notLeader.Add(1)
			return resp, nil, true
		case *kmsg.FetchRequest:
			resp := req.ResponseKind().(*kmsg.FetchResponse)
			for _, rt := range req.Topics {
				st := kmsg.NewFetchResponseTopic()
				st.Topic, st.TopicID = rt.Topic, rt.TopicID
				for _, rp := range rt.Partitions {
					sp := kmsg.NewFetchResponseTopicPartition()
					sp.Partition = rp.Partition
					sp.ErrorCode = kerr.NotLeaderForPartition.Code
					sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
					st.Partitions = append(st.Partitions, sp)
				}
				resp.Topics = append(resp.Topics, st)
			}
			notLeader.Add(1)
			return resp, nil, true
		}
		return nil, nil, false
	}
	flow(t, brokers, topic, 600, func(step int) {
		if step == 1 {
			c.ControlKey(int16(kmsg.Produce), answerNotLeader)
			c.ControlKey(int16(kmsg.Fetch), answerNotLeader)
		}
		moved := 0
		for p := range int32(partitions) {
			from := c.LeaderFor(topic, p)
			to := (from + int32(step)) % 3
			if err := c.MoveTopicPartition(topic, p, to); err != nil {
				t.Errorf("moving partition %d: %v", p, err)
			}
			if c.LeaderFor(topic, p) != from {
				moved++
			}
		}
		if moved != partitions {
			t.Errorf("step %d: %d of %d leaders moved", step, moved, partitions)
		}
	})
	if n := notLeader.Load(); n < injected {
		t.Errorf("only %d of %d NOT_LEADER_FOR_PARTITION answers were given: the client sent no requests after the move", n, injected)
	}
}

// TestBootstrapBrokerGone: the client is given all three brokers, and the
// one it bootstrapped from (the first) leaves the cluster, then the second
// one: partitions and the group coordinator move to the brokers left, and
// publishing and consuming go on.
func TestBootstrapBrokerGone(t *testing.T) {
	c := threeBrokers(t)
	brokers := c.ListenAddrs()
	topic := brokertest.KafkaTopic(t, brokers, 6)
	var gone sync.Map // node IDs removed
	var closed atomic.Int32
	// RemoveNode closes the broker's listener; this closes the client
	// connections it still has, at their next request, as a dead broker's
	// would be.
	c.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		if _, ok := gone.Load(c.CurrentNode()); ok {
			c.KeepControl()
			closed.Add(1)
			return nil, errors.New("broker removed"), true
		}
		return nil, nil, false
	})
	flow(t, brokers, topic, 600, func(step int) {
		// kfake numbers its brokers 0, 1, 2 in the order of ListenAddrs.
		node := int32(step - 1)
		gone.Store(node, true)
		if err := c.RemoveNode(node); err != nil {
			t.Errorf("removing broker %d: %v", node, err)
		}
	})
	t.Logf("%d requests reached a removed broker and had their connection closed", closed.Load())
}
