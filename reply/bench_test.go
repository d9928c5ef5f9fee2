package reply_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"

	"github.com/brokerkit/brokerkit/brokertest"
	"github.com/brokerkit/brokerkit/transport"
)

// BenchmarkRoundTrip measures one request at a time, request published to
// reply handled, on each backend, and reports the p50 and p99 round trip.
//
//	AMQP_URL=amqp://guest:guest@127.0.0.1:5672/ go test -run '^$' -bench RoundTrip -benchtime 2000x ./reply/
func BenchmarkRoundTrip(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			e := be.open(b)
			topic := e.topic(b, "bench")
			serve(b, e, topic, "bench", upper)
			c := newClient(b, e)
			ctx := testContext(b, 10*time.Minute)
			msg := &transport.Message{Payload: []byte("ping")}
			if _, err := c.Request(ctx, topic, msg); err != nil { // warm up
				b.Fatal(err)
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				if _, err := c.Request(ctx, topic, msg); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			report(b, lat)
		})
	}
}

// BenchmarkRawAMQPRoundTrip is the same pattern written with amqp091-go
// alone, as RabbitMQ's RPC tutorial does it: an exclusive reply queue per
// client, reply_to and correlation_id properties, a server consuming a
// queue. "confirms" waits for publisher confirms on both publishes, as
// brokerkit does by default; "tutorial" does not.
func BenchmarkRawAMQPRoundTrip(b *testing.B) {
	for _, confirms := range []bool{true, false} {
		name := "tutorial"
		if confirms {
			name = "confirms"
		}
		b.Run(name, func(b *testing.B) { rawRoundTrip(b, confirms) })
	}
}

func rawRoundTrip(b *testing.B, confirms bool) {
	call := rawRPC(b, confirms)
	call(-1)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		call(i)
		lat = append(lat, time.Since(start))
	}
	report(b, lat)
}

// rawRPC sets up the raw client and server and returns the client's call.
func rawRPC(b *testing.B, confirms bool) func(i int) {
	url := brokertest.RabbitMQ(b)
	conn, err := amqp091.Dial(url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	queue := brokertest.Name(b, "rawrpc")
	open := func() (*amqp091.Channel, chan amqp091.Confirmation) {
		ch, err := conn.Channel()
		if err != nil {
			b.Fatal(err)
		}
		if !confirms {
			return ch, nil
		}
		if err := ch.Confirm(false); err != nil {
			b.Fatal(err)
		}
		return ch, ch.NotifyPublish(make(chan amqp091.Confirmation, 1))
	}
	publish := func(ch *amqp091.Channel, acks chan amqp091.Confirmation, key string, p amqp091.Publishing) {
		if err := ch.PublishWithContext(context.Background(), "", key, false, false, p); err != nil {
			b.Error(err)
			return
		}
		if acks != nil {
			if c := <-acks; !c.Ack {
				b.Error("nacked")
			}
		}
	}

	// The server.
	sch, _ := open()
	if _, err := sch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if ch, err := conn.Channel(); err == nil {
			ch.QueueDelete(queue, false, false, false)
			ch.Close()
		}
	})
	reqs, err := sch.Consume(queue, "", false, false, false, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	pch, packs := open() // the server's publishing channel
	go func() {
		for d := range reqs {
			publish(pch, packs, d.ReplyTo, amqp091.Publishing{CorrelationId: d.CorrelationId,
				DeliveryMode: amqp091.Persistent, Body: append([]byte("re:"), d.Body...)})
			_ = d.Ack(false)
		}
	}()

	// The client.
	cch, cacks := open()
	rq, err := cch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	rch, _ := open()
	replies, err := rch.Consume(rq.Name, "", true, true, false, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	return func(i int) {
		id := strconv.Itoa(i)
		publish(cch, cacks, queue, amqp091.Publishing{ReplyTo: rq.Name, CorrelationId: id,
			DeliveryMode: amqp091.Persistent, Body: []byte("ping")})
		for d := range replies {
			if d.CorrelationId == id {
				return
			}
		}
	}
}

// BenchmarkRoundTripVsRaw alternates brokerkit's reply on RabbitMQ and the
// raw amqp091-go RPC (with confirms, the same work) in ten rounds inside one
// run, since the local RabbitMQ's speed swings from second to second, and
// reports both p50 and p99 and the ratio of the medians (raw / brokerkit:
// above 1 means brokerkit is faster).
//
//	AMQP_URL=amqp://guest:guest@127.0.0.1:5672/ go test -run '^$' -bench RoundTripVsRaw -benchtime 5000x ./reply/
func BenchmarkRoundTripVsRaw(b *testing.B) {
	e := openRabbitMQ(b)
	topic := e.topic(b, "bench")
	serve(b, e, topic, "bench", upper)
	c := newClient(b, e)
	ctx := testContext(b, 10*time.Minute)
	msg := &transport.Message{Payload: []byte("ping")}
	ours := func(int) {
		if _, err := c.Request(ctx, topic, msg); err != nil {
			b.Fatal(err)
		}
	}
	raw := rawRPC(b, true)
	ours(-1)
	raw(-1)
	var latOurs, latRaw []time.Duration
	b.ResetTimer()
	const rounds = 10
	for r := range rounds {
		for i := r * b.N / rounds; i < (r+1)*b.N/rounds; i++ {
			start := time.Now()
			ours(i)
			latOurs = append(latOurs, time.Since(start))
			start = time.Now()
			raw(i)
			latRaw = append(latRaw, time.Since(start))
		}
	}
	b.StopTimer()
	if len(latOurs) == 0 {
		return
	}
	slices.Sort(latOurs)
	slices.Sort(latRaw)
	at := func(lat []time.Duration, q float64) float64 {
		return float64(lat[int(q*float64(len(lat)-1))].Microseconds())
	}
	b.ReportMetric(at(latOurs, 0.5), "p50-µs")
	b.ReportMetric(at(latOurs, 0.99), "p99-µs")
	b.ReportMetric(at(latRaw, 0.5), "raw-p50-µs")
	b.ReportMetric(at(latRaw, 0.99), "raw-p99-µs")
	b.ReportMetric(at(latRaw, 0.5)/at(latOurs, 0.5), "raw/brokerkit-p50")
}

func report(b *testing.B, lat []time.Duration) {
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}
