package integration_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/brokerkit/brokerkit/brokertest"
	"github.com/brokerkit/brokerkit/internal/kafkadev"
	"github.com/brokerkit/brokerkit/transport"

	_ "github.com/brokerkit/brokerkit/amqp"
	_ "github.com/brokerkit/brokerkit/kafka"
)

// The fault suite: 8 publishers and a group subscriber run while the
// broker (a container the test owns) is restarted, killed or frozen, or
// while a member of the consumer group is killed. A message's identity is
// its payload. Each scenario prints one line:
//
//	FAULT <backend> <scenario>: sent=N confirmed=N received=N lost=N dup=N recover=<seconds>s
//
// sent counts distinct messages the publishers tried, confirmed those whose
// Publish returned nil (a publisher retries a message until it does),
// received those some handler saw, lost the confirmed ones no handler saw,
// dup the deliveries beyond the first. recover is the longest time from the
// broker being back to the next delivery (member kill: the longest a
// message confirmed after the kill waited for its first delivery, which
// spans the hand-over of the dead member's partitions). A scenario fails
// when lost > 0 or when recovery takes more than a minute.
//
// `make test` runs the short suite (one fault per backend, 2,000 messages);
// `make faults` (BROKERTEST_FAULTS=full) runs every scenario with 10,000.

const (
	envFaults  = "BROKERTEST_FAULTS"        // "full": every scenario, 10,000 messages each
	envMember  = "BROKERTEST_FAULTS_MEMBER" // set in the helper process of the member-kill scenario
	envDebug   = "BROKERTEST_FAULTS_DEBUG"  // set: progress and publish errors on stderr
	publishers = 8
	recoverMax = time.Minute
	pauseFor   = 15 * time.Second
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(envMember); spec != "" {
		os.Exit(runMember(spec))
	}
	os.Exit(m.Run())
}

func faultsFull() bool { return os.Getenv(envFaults) == "full" }

func faultMessages() int {
	if faultsFull() {
		return 10000
	}
	return 2000
}

// fault breaks something and returns once the broker is back.
type fault func(ctx context.Context) error

type scenario struct {
	backend, name string
	url           string
	topic         string
	faults        []fault
	// member: a second group member in a helper process, killed (SIGKILL)
	// when half the messages are confirmed.
	member bool
	// Clusters: pubURL, when set, is the publishers' URL (url is the
	// subscriber's), so that the two start on different nodes. A fault
	// returns once a node is down; then failover is timed from there (see
	// failoverMax) and heal[i] brings the node back before the next fault.
	pubURL string
	heal   []fault
	// pace: each publisher waits this long between messages, so that
	// publishing spans every fault and its healing.
	pace time.Duration
}

// failoverMax bounds a cluster's failover: from a node's death to the first
// delivery of a message confirmed after it, with the node still down.
const failoverMax = 30 * time.Second

// faultCounts is what a scenario measured.
type faultCounts struct {
	sent, confirmed, received, lost, dup int
	recover                              time.Duration
	failover                             []string // clusters: per fault, publisher and end-to-end failover
}

func (c faultCounts) String() string {
	s := fmt.Sprintf("sent=%d confirmed=%d received=%d lost=%d dup=%d recover=%.1fs",
		c.sent, c.confirmed, c.received, c.lost, c.dup, c.recover.Seconds())
	if len(c.failover) > 0 {
		s += " failover=" + strings.Join(c.failover, ",")
	}
	return s
}

// tally records deliveries by payload.
type tally struct {
	mu    sync.Mutex
	seen  map[string]int
	first map[string]time.Time // first delivery
	last  atomic.Int64         // unix nanoseconds of the latest delivery
}

func (t *tally) add(payload string) {
	now := time.Now()
	t.mu.Lock()
	if t.seen[payload] == 0 {
		t.first[payload] = now
	}
	t.seen[payload]++
	t.mu.Unlock()
	t.last.Store(now.UnixNano())
}

// longestWait is the longest time a message confirmed at or after since
// waited for its first delivery (until now when it has not arrived).
func (t *tally) longestWait(confirmedAt map[string]time.Time, since time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var worst time.Duration
	for p, at := range confirmedAt {
		if at.Before(since) {
			continue
		}
		first, ok := t.first[p]
		if !ok {
			first = time.Now()
		}
		worst = max(worst, first.Sub(at))
	}
	return worst
}

// firstAfter returns, of the messages whose successful Publish call began
// at or after since, the earliest confirm and the earliest first delivery;
// zero times when there is none yet.
func (t *tally) firstAfter(confirmedAt, startedAt map[string]time.Time, since time.Time) (confirm, delivery time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for p, at := range confirmedAt {
		if startedAt[p].Before(since) {
			continue
		}
		if confirm.IsZero() || at.Before(confirm) {
			confirm = at
		}
		if first, ok := t.first[p]; ok && (delivery.IsZero() || first.Before(delivery)) {
			delivery = first
		}
	}
	return confirm, delivery
}

func (t *tally) has(payloads []string) (missing int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range payloads {
		if t.seen[p] == 0 {
			missing++
		}
	}
	return missing
}

func runScenario(t *testing.T, sc scenario) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	total := faultMessages()
	group := brokertest.Name(t, "faults")
	got := &tally{seen: map[string]int{}, first: map[string]time.Time{}}

	sub, err := transport.OpenSubscriber(ctx, sc.url)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	s, err := sub.Subscribe(ctx, sc.topic, func(_ context.Context, m *transport.Message) error {
		got.add(string(m.Payload))
		return nil
	}, transport.WithGroup(group))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	var member *exec.Cmd
	var memberDone chan struct{}
	if sc.member {
		member, memberDone = startMember(t, sc.url, sc.topic, group, got)
	}

	// Publishers: each retries a message until Publish returns nil, as an
	// application with a retry policy would, so that every message counts.
	var (
		confirmedN atomic.Int64
		mu         sync.Mutex
		confirmed  []string
		confirmAt  = map[string]time.Time{}
		startAt    = map[string]time.Time{} // when the Publish call that succeeded began
		sentN      atomic.Int64
		wg         sync.WaitGroup
	)
	runID := brokertest.Name(t, "m")
	pubURL := sc.url
	if sc.pubURL != "" {
		pubURL = sc.pubURL
	}
	for p := range publishers {
		pub, err := transport.OpenPublisher(ctx, pubURL)
		if err != nil {
			t.Fatal(err)
		}
		defer pub.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; i < total; i += publishers {
				payload := fmt.Sprintf("%s/%d", runID, i)
				sentN.Add(1)
				time.Sleep(sc.pace)
				for ctx.Err() == nil {
					began := time.Now()
					pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
					err := pub.Publish(pctx, sc.topic, &transport.Message{Payload: []byte(payload)})
					pcancel()
					if err == nil {
						mu.Lock()
						confirmed = append(confirmed, payload)
						confirmAt[payload] = time.Now()
						startAt[payload] = began
						mu.Unlock()
						confirmedN.Add(1)
						break
					}
					if os.Getenv(envDebug) != "" {
						fmt.Fprintf(os.Stderr, "%s publish: %v\n", time.Now().Format("15:04:05.000"), err)
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	published := make(chan struct{})
	go func() { wg.Wait(); close(published) }()
	if os.Getenv(envDebug) != "" {
		go func() {
			for ctx.Err() == nil {
				time.Sleep(time.Second)
				got.mu.Lock()
				n := len(got.seen)
				got.mu.Unlock()
				fmt.Fprintf(os.Stderr, "%s confirmed=%d received=%d\n", time.Now().Format("15:04:05.000"), confirmedN.Load(), n)
			}
		}()
	}

	// The faults, at even steps of the confirmed count; recovery is timed
	// from the broker being back to the next delivery.
	var worst time.Duration
	var lastBack, killed time.Time
	var failovers []string
	steps := len(sc.faults)
	if sc.member {
		steps = 1
	}
	for i := range steps {
		threshold := int64(total * (i + 1) / (steps + 1))
		for confirmedN.Load() < threshold && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		if sc.member {
			mu.Lock()
			before := append([]string(nil), confirmed...)
			mu.Unlock()
			killed = time.Now()
			if err := member.Process.Kill(); err != nil {
				t.Fatalf("killing the group member: %v", err)
			}
			<-memberDone
			for got.has(before) > 0 && time.Since(killed) < recoverMax {
				time.Sleep(10 * time.Millisecond)
			}
			lastBack = killed
			if n := got.has(before); n > 0 {
				t.Errorf("%d messages confirmed before the member was killed were not handled within %v", n, recoverMax)
			}
			continue
		}
		if err := sc.faults[i](ctx); err != nil {
			t.Fatalf("fault %d: %v", i+1, err)
		}
		if os.Getenv(envDebug) != "" {
			fmt.Fprintf(os.Stderr, "%s fault %d done\n", time.Now().Format("15:04:05.000"), i+1)
		}
		back := time.Now()
		lastBack = back
		if sc.heal != nil {
			// A node is down: the others must take over, now. Timed from
			// the fault's return (docker reports the node dead or
			// frozen), counting only publishes that began after it.
			var confirm, delivery time.Time
			for time.Since(back) < recoverMax && ctx.Err() == nil {
				mu.Lock()
				confirm, delivery = got.firstAfter(confirmAt, startAt, back)
				mu.Unlock()
				if !delivery.IsZero() {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			pubD, e2e := confirm.Sub(back), delivery.Sub(back)
			if confirm.IsZero() {
				pubD = recoverMax
			}
			if delivery.IsZero() {
				e2e = recoverMax
			}
			failovers = append(failovers, fmt.Sprintf("pub:%.1fs/e2e:%.1fs", pubD.Seconds(), e2e.Seconds()))
			if e2e > failoverMax {
				t.Errorf("fault %d: no message confirmed after the node went down was delivered within %v (publish resumed after %v)",
					i+1, failoverMax, pubD)
			}
			worst = max(worst, e2e)
			if err := sc.heal[i](ctx); err != nil {
				t.Fatalf("bringing the node of fault %d back: %v", i+1, err)
			}
			if os.Getenv(envDebug) != "" {
				fmt.Fprintf(os.Stderr, "%s healed %d: %v\n", time.Now().Format("15:04:05.000"), i+1, failovers)
			}
			lastBack = time.Now()
			continue
		}
		for got.last.Load() < back.UnixNano() && time.Since(back) < recoverMax && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
		d := time.Unix(0, got.last.Load()).Sub(back)
		if d < 0 {
			t.Errorf("fault %d: no delivery within %v of the broker being back", i+1, recoverMax)
			d = recoverMax
		}
		worst = max(worst, d)
	}

	select {
	case <-published:
	case <-ctx.Done():
		t.Fatalf("publishers did not finish: %d of %d confirmed", confirmedN.Load(), total)
	}
	// Every confirmed message must arrive; allow a minute from the end of
	// publishing or from the broker being back, whichever is later.
	deadline := time.Now().Add(recoverMax)
	if d := lastBack.Add(recoverMax); d.After(deadline) {
		deadline = d
	}
	for got.has(confirmed) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	// Let late duplicates in flight land before counting.
	time.Sleep(500 * time.Millisecond)
	s.Close()
	if sc.member {
		// The killed member's partitions stall until the group hands them
		// to the survivor: the longest a message confirmed after the kill
		// waited for a handler.
		mu.Lock()
		worst = got.longestWait(confirmAt, killed)
		mu.Unlock()
		if worst > recoverMax {
			t.Errorf("a message waited %v for a handler after the member was killed", worst)
		}
	}

	c := faultCounts{sent: int(sentN.Load()), confirmed: len(confirmed), recover: worst, failover: failovers}
	c.lost = got.has(confirmed)
	got.mu.Lock()
	for _, n := range got.seen {
		c.received++
		c.dup += n - 1
	}
	got.mu.Unlock()
	fmt.Printf("FAULT %s %s: %s\n", sc.backend, sc.name, c)
	if c.lost > 0 {
		t.Errorf("%d confirmed messages were never delivered", c.lost)
	}
	if c.confirmed != total {
		t.Errorf("%d of %d messages confirmed: publishers gave up", c.confirmed, total)
	}
}

// startMember starts a second member of group in a helper process (this
// test binary, see TestMain): it prints each payload it handles, and got
// records them. memberDone closes once its output is read to the end.
func startMember(t *testing.T, url, topic, group string, got *tally) (*exec.Cmd, chan struct{}) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envMember+"="+url+"\t"+topic+"\t"+group)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "READY":
				close(ready)
			case strings.HasPrefix(line, "M "):
				got.add(line[2:])
			}
		}
	}()
	select {
	case <-ready:
	case <-done:
		t.Fatal("the group member exited before subscribing")
	case <-time.After(2 * time.Minute):
		t.Fatal("the group member did not subscribe within 2 minutes")
	}
	return cmd, done
}

// runMember is the helper process: a group member that prints what it
// handles until it is killed.
func runMember(spec string) int {
	f := strings.Split(spec, "\t")
	if len(f) != 3 {
		fmt.Fprintf(os.Stderr, "member: bad spec %q\n", spec)
		return 2
	}
	ctx := context.Background()
	sub, err := transport.OpenSubscriber(ctx, f[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "member:", err)
		return 1
	}
	var mu sync.Mutex
	_, err = sub.Subscribe(ctx, f[1], func(_ context.Context, m *transport.Message) error {
		mu.Lock()
		defer mu.Unlock()
		// Printed before the handler returns, so before the commit: what
		// the parent has not read was not committed either.
		_, err := fmt.Fprintf(os.Stdout, "M %s\n", m.Payload)
		return err
	}, transport.WithGroup(f[2]))
	if err != nil {
		fmt.Fprintln(os.Stderr, "member:", err)
		return 1
	}
	fmt.Println("READY")
	select {}
}

func TestFaultsRabbitMQ(t *testing.T) {
	c := brokertest.NewRabbitMQContainer(t)
	restart := fault(c.Restart)
	kill := func(ctx context.Context) error {
		if err := c.Kill(ctx); err != nil {
			return err
		}
		return c.Start(ctx)
	}
	pause := func(ctx context.Context) error {
		if err := c.Pause(ctx); err != nil {
			return err
		}
		time.Sleep(pauseFor)
		return c.Unpause(ctx)
	}
	type sc struct {
		name   string
		faults []fault
	}
	scenarios := []sc{{"restart", []fault{restart}}}
	queues := []string{"classic"}
	if faultsFull() {
		scenarios = []sc{{"restart", []fault{restart, restart}}, {"kill", []fault{kill}}, {"pause", []fault{pause}}}
		queues = []string{"classic", "quorum"}
	}
	for _, q := range queues {
		for _, s := range scenarios {
			t.Run(q+"/"+s.name, func(t *testing.T) {
				url := c.URL()
				if q == "quorum" {
					url += "?quorum=true"
				}
				runScenario(t, scenario{
					backend: "rabbitmq", name: q + "-" + s.name, url: url,
					topic: brokertest.Name(t, "faults"), faults: s.faults,
				})
			})
		}
	}
}

func TestFaultsKafka(t *testing.T) {
	c := brokertest.NewKafkaContainer(t)
	restart := fault(c.Restart)
	pause := func(ctx context.Context) error {
		if err := c.Pause(ctx); err != nil {
			return err
		}
		time.Sleep(pauseFor)
		return c.Unpause(ctx)
	}
	type sc struct {
		name   string
		faults []fault
		member bool
	}
	scenarios := []sc{{name: "restart", faults: []fault{restart}}}
	if faultsFull() {
		scenarios = []sc{
			{name: "restart", faults: []fault{restart, restart}},
			{name: "pause", faults: []fault{pause}},
			{name: "member-kill", member: true},
		}
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			// A short session timeout: a killed member's partitions move
			// to the survivor within seconds rather than 30 s.
			url := c.URL("session_timeout=6s&heartbeat_interval=1s")
			runScenario(t, scenario{
				backend: "kafka", name: s.name, url: url,
				topic: brokertest.KafkaTopic(t, c.Brokers(), 4), faults: s.faults, member: s.member,
			})
		})
	}
}

// TestFaultsRabbitMQCluster (make faults): a three-node cluster with quorum
// queues. The publishers start on node 1 and the subscriber on node 2 (the
// order of their URLs' host lists). kill: node 1 is killed (the publishers'
// node), and once a message confirmed after the kill is delivered, it is
// started again; then node 2 (the subscriber's). pause: node 1 is frozen for
// 20 s; heartbeat=5 lets clients notice within 15 s and move on.
func TestFaultsRabbitMQCluster(t *testing.T) {
	if !faultsFull() {
		t.Skip("a three-node cluster takes about a minute to form: BROKERTEST_FAULTS=full (make faults) runs it")
	}
	c := brokertest.NewRabbitMQCluster(t, 3)
	kill := func(i int) fault {
		return func(ctx context.Context) error { return c.Node(i).Kill(ctx) }
	}
	start := func(i int) fault {
		return func(ctx context.Context) error { return c.Node(i).Start(ctx) }
	}
	const pauseLen = 20 * time.Second
	var paused time.Time
	pause := func(ctx context.Context) error { paused = time.Now(); return c.Node(0).Pause(ctx) }
	unpause := func(ctx context.Context) error {
		time.Sleep(time.Until(paused.Add(pauseLen)))
		return c.Node(0).Unpause(ctx)
	}
	for _, s := range []struct {
		name, query  string
		faults, heal []fault
	}{
		{"cluster-kill", "quorum=true", []fault{kill(0), kill(1)}, []fault{start(0), start(1)}},
		{"cluster-pause", "quorum=true&heartbeat=5", []fault{pause}, []fault{unpause}},
	} {
		t.Run(s.name, func(t *testing.T) {
			runScenario(t, scenario{
				backend: "rabbitmq", name: s.name, topic: brokertest.Name(t, "faults"),
				url: c.URL(1) + "?" + s.query, pubURL: c.URL(0) + "?" + s.query,
				faults: s.faults, heal: s.heal, pace: 40 * time.Millisecond, // about 50 s of publishing
			})
		})
	}
}

// TestFaultsKafkaCluster: an embedded three-broker kfake. leader-moves:
// every partition's leader moves to another broker, twice. bootstrap-kill
// (make faults): the broker the clients bootstrapped from (the first of the
// URL) leaves the cluster for good and its connections are closed; once a
// message confirmed after its death is delivered, a new broker joins.
func TestFaultsKafkaCluster(t *testing.T) {
	srv, err := kafkadev.Start(kafkadev.Config{Brokers: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	kc := srv.Cluster()
	var gone sync.Map
	kc.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		if _, ok := gone.Load(kc.CurrentNode()); ok {
			kc.KeepControl()
			return nil, errors.New("broker removed"), true // closes the connection
		}
		return nil, nil, false
	})
	addrs := srv.Addrs()
	const partitions = 4
	moveLeaders := func(topic string) fault {
		return func(context.Context) error {
			for p := range int32(partitions) {
				if err := kc.MoveTopicPartition(topic, p, (kc.LeaderFor(topic, p)+1)%3); err != nil {
					return err
				}
			}
			return nil
		}
	}
	removeBootstrap := func(context.Context) error {
		gone.Store(int32(0), true)
		return kc.RemoveNode(0)
	}
	// A new broker takes the dead one's place (kfake cannot restart a
	// removed broker as the same node: connections to the old one would
	// live on, refused as not the leader).
	addBroker := func(context.Context) error {
		_, _, err := kc.AddNode(-1, 0)
		return err
	}
	type sc struct {
		name         string
		faults, heal func(topic string) []fault
	}
	scenarios := []sc{{name: "leader-moves", faults: func(topic string) []fault {
		return []fault{moveLeaders(topic), moveLeaders(topic)}
	}}}
	if faultsFull() {
		scenarios = append(scenarios, sc{name: "bootstrap-kill",
			faults: func(string) []fault { return []fault{removeBootstrap} },
			heal:   func(string) []fault { return []fault{addBroker} }})
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			topic := brokertest.KafkaTopic(t, addrs, partitions)
			var heal []fault
			if s.heal != nil {
				heal = s.heal(topic)
			}
			runScenario(t, scenario{
				backend: "kafka", name: "cluster-" + s.name, topic: topic,
				url:    "kafka://" + strings.Join(addrs, ",") + "?session_timeout=6s&heartbeat_interval=1s",
				faults: s.faults(topic), heal: heal,
			})
		})
	}
}
