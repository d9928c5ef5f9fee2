// Command compare runs brokerkit, the raw clients, Watermill and
// gocloud.dev/pubsub on the same workloads in one process and prints, for
// each, throughput, client CPU per message and end-to-end latency, with
// ratios to the raw client of the same backend.
//
//	cd benchmarks && go run . -rounds 5
//
// RabbitMQ figures need a broker at AMQP_URL (default
// amqp://guest:guest@127.0.0.1:5672/). Kafka runs on kfake, an in-process
// Kafka-protocol broker, not Apache Kafka.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// workload is one way of publishing: payload size, publishing goroutines,
// messages per call, and how many messages per backend.
type workload struct {
	name       string
	payload    int
	publishers int
	batch      int
	n          map[string]int // messages per run, per backend
}

var workloads = []workload{
	{"256B/64 publishers/1 per call", 256, 64, 1, map[string]int{"memory": 200000, "amqp": 6000, "kafka": 30000}},
	{"256B/16 publishers/64 per call", 256, 16, 64, map[string]int{"memory": 400000, "amqp": 20000, "kafka": 100000}},
	{"1KiB/64 publishers/1 per call", 1024, 64, 1, map[string]int{"memory": 200000, "amqp": 6000, "kafka": 30000}},
	{"256B/1024 publishers/1 per call", 256, 1024, 1, map[string]int{"memory": 200000, "amqp": 8192, "kafka": 30000}},
}

// system is one client on one backend. open creates a fresh topic with one
// group subscription that calls got with every message's body and acks it,
// and returns the way to publish and to tear it all down.
type system struct {
	name    string
	backend string
	raw     bool   // the baseline the ratios are taken against
	note    string // what it promises, where that differs
	batchOK bool   // has a call that publishes many messages
	open    func(ctx context.Context, topic string, got func([]byte)) (publishFunc, func(), error)
}

type publishFunc func(ctx context.Context, bodies [][]byte) error

type result struct {
	System, Backend, Workload string
	Round                     int
	PubRate, E2ERate          float64 // messages a second
	CPUPerMsg                 float64 // µs of client CPU (user+system) per message
	P50, P99                  float64 // µs from publish call to handler
	Err                       string  `json:",omitempty"`
}

var epoch = time.Now()

// stamp writes the time since epoch into the first 8 bytes of body.
func stamp(body []byte) {
	d := uint64(time.Since(epoch))
	for i := range 8 {
		body[i] = byte(d >> (8 * i))
	}
}

func latency(body []byte) time.Duration {
	if len(body) < 8 {
		return -1
	}
	var d uint64
	for i := range 8 {
		d |= uint64(body[i]) << (8 * i)
	}
	return time.Since(epoch) - time.Duration(d)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var runID = fmt.Sprintf("%x", time.Now().UnixNano()&0xffffff)
var seq atomic.Int64

func topicName(backend string) string {
	return fmt.Sprintf("bkcmp-%s-%s-%d", backend, runID, seq.Add(1))
}

// run publishes n messages with w through s while its subscription drains
// them, and measures.
func run(ctx context.Context, s system, w workload, n int, timeout time.Duration) result {
	res := result{System: s.name, Backend: s.backend, Workload: w.name}
	lats := make([]time.Duration, n)
	// claimed hands each delivery a slot in lats; recorded counts the
	// slots written, so that done closes after the last write. Deliveries
	// beyond n (redeliveries) are not recorded.
	var claimed, recorded atomic.Int64
	done := make(chan struct{})
	got := func(body []byte) {
		i := claimed.Add(1) - 1
		if i < int64(n) {
			lats[i] = latency(body)
			if recorded.Add(1) == int64(n) {
				close(done)
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	publish, closeFn, err := s.open(ctx, topicName(s.backend), got)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer closeFn()

	// Collect the previous run's garbage and let its clients wind down,
	// so that neither is charged to this run; the pause also lets the
	// clients whose group join goes on after open (sarama, kafka-go's
	// Reader) finish it, as brokerkit's Subscribe does before returning.
	runtime.GC()
	time.Sleep(200 * time.Millisecond)
	cpu0, start := cpuTime(), time.Now()
	var wg sync.WaitGroup
	var firstErr atomic.Value
	per := n / w.publishers
	for p := range w.publishers {
		share := per
		if p < n%w.publishers {
			share++
		}
		wg.Go(func() {
			for sent := 0; sent < share; {
				k := min(w.batch, share-sent)
				bodies := make([][]byte, k)
				for i := range bodies {
					bodies[i] = make([]byte, w.payload)
					stamp(bodies[i])
				}
				if err := publish(ctx, bodies); err != nil {
					firstErr.CompareAndSwap(nil, err.Error())
					return
				}
				sent += k
			}
		})
	}
	wg.Wait()
	pubDur := time.Since(start)
	if e := firstErr.Load(); e != nil {
		res.Err = e.(string)
		return res
	}
	select {
	case <-done:
	case <-ctx.Done():
		res.Err = fmt.Sprintf("drain: %d of %d messages handled before the timeout", recorded.Load(), n)
		return res
	}
	e2eDur := time.Since(start)
	cpu := cpuTime() - cpu0
	res.PubRate = float64(n) / pubDur.Seconds()
	res.E2ERate = float64(n) / e2eDur.Seconds()
	res.CPUPerMsg = float64(cpu.Microseconds()) / float64(n)
	slices.Sort(lats)
	res.P50 = float64(lats[n/2].Microseconds())
	res.P99 = float64(lats[min(n-1, n*99/100)].Microseconds())
	return res
}

func main() {
	rounds := flag.Int("rounds", 5, "rounds; the order of the systems rotates each round")
	backends := flag.String("backends", "memory,amqp,kafka", "backends to run, comma-separated")
	only := flag.String("workloads", "", "run only workloads whose name contains this")
	onlySystems := flag.String("systems", "", "run only systems whose name starts with one of these (comma-separated), e.g. to profile one client; without the raw client the x raw ratios are left out")
	scale := flag.Float64("scale", 1, "multiplies every workload's message count")
	jsonOut := flag.String("json", "", "write every round's results to this file")
	svgOut := flag.String("svg", "", "write a chart of the medians to this SVG file")
	from := flag.String("from", "", "run nothing: report the results in these -json files (comma-separated)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "compare:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}

	if *from != "" {
		// A backend's results in a later file replace those in earlier ones.
		var all []result
		for _, f := range strings.Split(*from, ",") {
			b, err := os.ReadFile(f)
			var rs []result
			if err == nil {
				err = json.Unmarshal(b, &rs)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "compare:", err)
				os.Exit(1)
			}
			later := map[string]bool{}
			for _, r := range rs {
				later[r.Backend] = true
			}
			all = slices.DeleteFunc(all, func(r result) bool { return later[r.Backend] })
			all = append(all, rs...)
		}
		report(all, offlineEnv(), "", *svgOut)
		return
	}

	ctx := context.Background()
	env, err := newEnv(ctx, strings.Split(*backends, ","))
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
	defer env.close()

	var all []result
	for _, w := range workloads {
		if *only != "" && !strings.Contains(w.name, *only) {
			continue
		}
		for _, backend := range env.backends {
			systems := slices.DeleteFunc(env.systems(backend), func(s system) bool {
				return !slices.ContainsFunc(strings.Split(*onlySystems, ","), func(part string) bool {
					return strings.HasPrefix(s.name, part)
				})
			})
			n := int(float64(w.n[backend]) * *scale)
			n -= n % w.publishers
			if n < w.publishers {
				n = w.publishers
			}
			for r := range *rounds {
				for i := range systems {
					s := systems[(i+r)%len(systems)]
					res := run(ctx, s, w, n, 3*time.Minute)
					res.Round = r
					all = append(all, res)
					fmt.Fprintf(os.Stderr, "round %d %-32s %-40s e2e %9.0f msg/s cpu %6.1f µs/msg %s\n",
						r, w.name, s.name, res.E2ERate, res.CPUPerMsg, res.Err)
				}
			}
		}
	}
	report(all, env, *jsonOut, *svgOut)
}

func report(all []result, env *env, jsonOut, svgOut string) {
	// Group rows by workload, then backend, in the order of workloads.
	order := map[string]int{}
	for i, w := range workloads {
		order[w.name] = i
	}
	bOrder := map[string]int{"memory": 0, "amqp": 1, "kafka": 2}
	slices.SortStableFunc(all, func(a, b result) int {
		if d := order[a.Workload] - order[b.Workload]; d != 0 {
			return d
		}
		return bOrder[a.Backend] - bOrder[b.Backend]
	})
	rows := summarize(all, env)
	printTable(os.Stdout, rows)
	if jsonOut != "" {
		b, _ := json.MarshalIndent(all, "", " ")
		if err := os.WriteFile(jsonOut, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "compare:", err)
		}
	}
	if svgOut != "" {
		if err := os.WriteFile(svgOut, []byte(chart(rows)), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "compare:", err)
		}
	}
}
