package amqp_test

// Benchmarks of the RabbitMQ backend against raw amqp091-go used the
// recommended way (a confirm-mode channel per publishing goroutine, a batch
// written with deferred confirmations before they are awaited, prefetch on
// the consumer), against the same broker (AMQP_URL).
//
// A RabbitMQ on a shared two-core machine with persistent messages is noisy
// (fsync), easily by a factor of two from one second to the next, so each
// benchmark runs brokerkit and raw in alternating rounds within the same
// function and reports each side's figure and their ratio as metrics:
// drift hits both alike. b.N is the number of messages per side; ns/op
// covers both sides and means little.
//
//	AMQP_URL=amqp://guest:guest@127.0.0.1:5672/ go test -run '^$' -bench . -benchtime 20000x ./amqp/

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/brokerkit/brokerkit/transport"
)

const (
	benchPayload  = 100 // bytes per message
	benchPrefetch = 128 // both consumers
	benchRounds   = 10  // alternations of brokerkit and raw
)

// benchQueue declares an exchange with a durable queue bound to it, so that
// confirms wait for the queue as in production; both go at cleanup.
func benchQueue(b *testing.B, e *env, group string) (topic, queue string) {
	b.Helper()
	topic = e.names.topic()
	queue = e.names.queueName(topic, group)
	if err := e.admin.do(b, func(ch *amqp091.Channel) error {
		if err := ch.ExchangeDeclare(topic, "topic", true, false, false, false, nil); err != nil {
			return err
		}
		if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
			return err
		}
		return ch.QueueBind(queue, "#", topic, false, nil)
	}); err != nil {
		b.Fatal(err)
	}
	return topic, queue
}

// split divides n among workers.
func split(n, workers int) []int {
	out := make([]int, workers)
	for i := range out {
		out[i] = n / workers
		if i < n%workers {
			out[i]++
		}
	}
	return out
}

// cpuTime is the CPU time this process used so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sides runs each side's round function benchRounds times, alternating
// which goes first, and returns each side's total wall time and the CPU
// time this process spent in it (the client's cost: the broker runs
// elsewhere). A round handles its share of n messages.
func sides(n int, fns ...func(msgs int) time.Duration) (wall, cpu []time.Duration) {
	wall = make([]time.Duration, len(fns))
	cpu = make([]time.Duration, len(fns))
	for r, chunk := range split(n, benchRounds) {
		if chunk == 0 {
			continue
		}
		for i := range fns {
			j := (i + r) % len(fns)
			c := cpuTime()
			wall[j] += fns[j](chunk)
			cpu[j] += cpuTime() - c
		}
	}
	return wall, cpu
}

// reportSides reports each side's rate and client CPU per message, and the
// ratio of the first side's rate to the second's.
func reportSides(b *testing.B, names []string, wall, cpu []time.Duration) {
	rates := make([]float64, len(wall))
	for i, d := range wall {
		rates[i] = float64(b.N) / d.Seconds()
		b.ReportMetric(rates[i], names[i]+"-msgs/s")
		b.ReportMetric(float64(cpu[i].Nanoseconds())/1e3/float64(b.N), names[i]+"-cpu-µs/msg")
	}
	b.ReportMetric(rates[0]/rates[1], "x-raw")
}

// rawPublisher is amqp091-go the recommended way: a channel in confirm mode
// per goroutine, a batch written with deferred confirmations, then their
// confirms awaited.
type rawPublisher struct {
	ch    *amqp091.Channel
	topic string
	ids   bool // set message_id and timestamp, as brokerkit does
	dcs   []*amqp091.DeferredConfirmation
}

func newRawPublisher(b *testing.B, conn *amqp091.Connection, topic string, ids bool) *rawPublisher {
	ch, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		b.Fatal(err)
	}
	return &rawPublisher{ch: ch, topic: topic, ids: ids}
}

func (p *rawPublisher) publish(ctx context.Context, body func() []byte, n int) error {
	p.dcs = p.dcs[:0]
	for range n {
		msg := amqp091.Publishing{DeliveryMode: amqp091.Persistent, Body: body()}
		if p.ids {
			now := time.Now()
			msg.MessageId, msg.Timestamp = transport.NewID(), now
		}
		dc, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, p.topic, "", false, false, msg)
		if err != nil {
			return err
		}
		p.dcs = append(p.dcs, dc)
	}
	for _, dc := range p.dcs {
		if ok, err := dc.WaitContext(ctx); err != nil || !ok {
			return fmt.Errorf("not confirmed: %v", err)
		}
	}
	return nil
}

func rawConn(b *testing.B, e *env) *amqp091.Connection {
	conn, err := amqp091.Dial(e.url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return conn
}

func zeros() []byte { return make([]byte, benchPayload) }

// BenchmarkPublish: messages with confirms from 1 or 16 goroutines, in
// calls of 100 messages or of 1. raw publishes bare messages, as a raw
// amqp091-go user would; raw-ids adds what brokerkit's contract puts on
// every message (message_id and timestamp), so that brokerkit/raw-ids is
// the cost of the code and raw-ids/raw the cost of those bytes.
func BenchmarkPublish(b *testing.B) {
	for _, c := range []struct{ publishers, batch int }{{1, 100}, {16, 100}, {16, 1}} {
		b.Run(fmt.Sprintf("publishers=%d/batch=%d", c.publishers, c.batch), func(b *testing.B) {
			benchPublish(b, c.publishers, c.batch)
		})
	}
}

func benchPublish(b *testing.B, publishers, batch int) {
	e := newEnv(b)
	topic, _ := benchQueue(b, e, "bench")
	ctx := context.Background()
	pub := e.publisher(b)
	if err := pub.Publish(ctx, topic, &transport.Message{Payload: zeros()}); err != nil {
		b.Fatal(err) // connect and declare outside the timer
	}
	conn := rawConn(b, e)
	raw := make([][]*rawPublisher, 2)
	for i, ids := range []bool{false, true} {
		for range publishers {
			raw[i] = append(raw[i], newRawPublisher(b, conn, topic, ids))
		}
	}
	payload := zeros()
	fixed := func() []byte { return payload }

	// run starts the publishers, each sending its share of n in calls of
	// batch, and returns how long they took.
	run := func(n int, send func(worker, k int) error) time.Duration {
		start := time.Now()
		var wg sync.WaitGroup
		for w, share := range split(n, publishers) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for sent := 0; sent < share; {
					k := min(batch, share-sent)
					if err := send(w, k); err != nil {
						b.Error(err)
						return
					}
					sent += k
				}
			}()
		}
		wg.Wait()
		return time.Since(start)
	}
	b.ResetTimer()
	wall, cpu := sides(b.N,
		func(n int) time.Duration {
			return run(n, func(_, k int) error {
				msgs := make([]*transport.Message, k)
				for i := range msgs {
					msgs[i] = &transport.Message{Payload: payload}
				}
				return pub.Publish(ctx, topic, msgs...)
			})
		},
		func(n int) time.Duration {
			return run(n, func(w, k int) error { return raw[0][w].publish(ctx, fixed, k) })
		},
		func(n int) time.Duration {
			return run(n, func(w, k int) error { return raw[1][w].publish(ctx, fixed, k) })
		},
	)
	b.StopTimer()
	reportSides(b, []string{"brokerkit", "raw", "raw-ids"}, wall, cpu)
}

// fill puts n messages in topic's queue, outside the timer.
func fill(b *testing.B, p *rawPublisher, n int) {
	b.Helper()
	for sent := 0; sent < n; sent += 1000 {
		if err := p.publish(context.Background(), zeros, min(1000, n-sent)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConsume: messages waiting in a queue, consumed and acked one by
// one with a prefetch of 128 (brokerkit: one handler).
func BenchmarkConsume(b *testing.B) {
	e := newEnv(b)
	bkTopic, _ := benchQueue(b, e, "bench")
	rawTopic, rawQueue := benchQueue(b, e, "bench")
	conn := rawConn(b, e)
	bkFill := newRawPublisher(b, conn, bkTopic, true)
	rawFill := newRawPublisher(b, conn, rawTopic, true)
	sub := e.subscriber(b)
	ch, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	if err := ch.Qos(benchPrefetch, 0, false); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	wall, cpu := sides(b.N,
		func(n int) time.Duration {
			b.StopTimer()
			fill(b, bkFill, n)
			b.StartTimer()
			var got atomic.Int64
			done := make(chan struct{})
			start := time.Now()
			s, err := sub.Subscribe(context.Background(), bkTopic, func(context.Context, *transport.Message) error {
				if got.Add(1) == int64(n) {
					close(done)
				}
				return nil
			}, transport.WithGroup("bench"), transport.WithPrefetch(benchPrefetch))
			if err != nil {
				b.Fatal(err)
			}
			<-done
			d := time.Since(start)
			s.Close()
			return d
		},
		func(n int) time.Duration {
			b.StopTimer()
			fill(b, rawFill, n)
			b.StartTimer()
			start := time.Now()
			deliveries, err := ch.Consume(rawQueue, "bench", false, false, false, false, nil)
			if err != nil {
				b.Fatal(err)
			}
			for range n {
				d := <-deliveries
				if err := d.Ack(false); err != nil {
					b.Fatal(err)
				}
			}
			took := time.Since(start)
			if err := ch.Cancel("bench", false); err != nil {
				b.Fatal(err)
			}
			return took
		},
	)
	b.StopTimer()
	reportSides(b, []string{"brokerkit", "raw"}, wall, cpu)
}

// latencies records publish-to-handler times from a timestamp at the start
// of the payload.
type latencies struct {
	mu    sync.Mutex
	d     []time.Duration
	count int
	more  chan struct{}
}

func newLatencies() *latencies { return &latencies{more: make(chan struct{}, 1)} }

func (l *latencies) record(body []byte) {
	sent := time.Unix(0, int64(binary.BigEndian.Uint64(body)))
	l.mu.Lock()
	l.d = append(l.d, time.Since(sent))
	l.count++
	l.mu.Unlock()
	select {
	case l.more <- struct{}{}:
	default:
	}
}

// await waits until n latencies were recorded in all.
func (l *latencies) await(n int) {
	for {
		l.mu.Lock()
		c := l.count
		l.mu.Unlock()
		if c >= n {
			return
		}
		select {
		case <-l.more:
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (l *latencies) report(b *testing.B, name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	slices.Sort(l.d)
	at := func(q float64) float64 {
		return float64(l.d[min(len(l.d)-1, int(q*float64(len(l.d))))].Microseconds())
	}
	b.ReportMetric(at(0.50), name+"-p50-µs")
	b.ReportMetric(at(0.99), name+"-p99-µs")
	b.ReportMetric(at(0.999), name+"-p99.9-µs")
}

func stamped() []byte {
	body := make([]byte, benchPayload)
	binary.BigEndian.PutUint64(body, uint64(time.Now().UnixNano()))
	return body
}

// BenchmarkLatency: publish-to-handler latency, with 4 goroutines each
// publishing one message at a time (and awaiting its confirm) while one
// consumer acks them.
func BenchmarkLatency(b *testing.B) {
	const publishers = 4
	e := newEnv(b)
	ctx := context.Background()

	bkTopic := e.names.topic()
	pub, sub := e.publisher(b), e.subscriber(b)
	bkLat := newLatencies()
	s, err := sub.Subscribe(ctx, bkTopic, func(_ context.Context, m *transport.Message) error {
		bkLat.record(m.Payload)
		return nil
	}, transport.WithGroup(e.names.group()), transport.WithPrefetch(benchPrefetch))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()

	rawTopic, rawQueue := benchQueue(b, e, "bench")
	conn := rawConn(b, e)
	ch, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	if err := ch.Qos(benchPrefetch, 0, false); err != nil {
		b.Fatal(err)
	}
	deliveries, err := ch.Consume(rawQueue, "", false, false, false, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	rawLat := newLatencies()
	go func() {
		for d := range deliveries {
			rawLat.record(d.Body)
			_ = d.Ack(false)
		}
	}()
	raws := make([]*rawPublisher, publishers)
	for i := range raws {
		raws[i] = newRawPublisher(b, conn, rawTopic, false)
	}

	run := func(n int, lat *latencies, send func(worker int) error) time.Duration {
		lat.mu.Lock()
		want := lat.count + n
		lat.mu.Unlock()
		start := time.Now()
		var wg sync.WaitGroup
		for w, share := range split(n, publishers) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range share {
					if err := send(w); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		lat.await(want)
		return time.Since(start)
	}
	b.ResetTimer()
	wall, cpu := sides(b.N,
		func(n int) time.Duration {
			return run(n, bkLat, func(int) error {
				return pub.Publish(ctx, bkTopic, &transport.Message{Payload: stamped()})
			})
		},
		func(n int) time.Duration {
			return run(n, rawLat, func(w int) error { return raws[w].publish(ctx, stamped, 1) })
		},
	)
	b.StopTimer()
	reportSides(b, []string{"brokerkit", "raw"}, wall, cpu)
	bkLat.report(b, "brokerkit")
	rawLat.report(b, "raw")
}
