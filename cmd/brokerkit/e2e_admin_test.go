package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/brokerkit/brokerkit/brokertest"
	"github.com/brokerkit/brokerkit/transport"
)

// statOf runs `stat --json` and parses its reading.
func statOf(t *testing.T, u, topic, group string) statJSON {
	t.Helper()
	r := runOK(t, nil, "stat", u, topic, "--group", group, "--json")
	var st statJSON
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("stat --json: %v\n%s", err, r.stdout)
	}
	if st.Topic != topic || st.Group != group || st.Time.IsZero() {
		t.Errorf("stat --json names %q/%q at %v, want %q/%q", st.Topic, st.Group, st.Time, topic, group)
	}
	return st
}

// waitBacklog reads stat until the backlog is want: RabbitMQ requeues the
// messages a closed consumer held a moment after it left. It fails the
// test if the backlog does not come to want within a minute.
func waitBacklog(t *testing.T, u, topic, group string, want int64) statJSON {
	t.Helper()
	limit := time.Now().Add(time.Minute)
	for {
		st := statOf(t, u, topic, group)
		if st.Backlog == want || time.Now().After(limit) {
			if st.Backlog != want {
				t.Fatalf("backlog %d, want %d: %+v", st.Backlog, want, st)
			}
			return st
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkKafkaStat checks that the partitions add up to the backlog.
func checkKafkaStat(t *testing.T, st statJSON, partitions int) {
	t.Helper()
	if len(st.Partitions) != partitions {
		t.Fatalf("%d partitions, want %d: %+v", len(st.Partitions), partitions, st)
	}
	var sum int64
	for i, p := range st.Partitions {
		if p.Partition != i {
			t.Errorf("partitions out of order: %+v", st.Partitions)
		}
		want := int64(0)
		if p.Committed >= 0 {
			want = p.End - p.Committed
		}
		if p.Lag != want {
			t.Errorf("partition %d: lag %d, want end %d - committed %d", p.Partition, p.Lag, p.End, p.Committed)
		}
		sum += p.Lag
	}
	if sum != st.Backlog {
		t.Errorf("lags add up to %d, backlog is %d", sum, st.Backlog)
	}
}

// ptyRun runs the binary with a pseudo-terminal as stdin, waits for its
// question on stderr, types answer and returns what it printed.
func ptyRun(t *testing.T, answer string, args ...string) result {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout bytes.Buffer
	errR, errW := io.Pipe()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, &stdout, errW
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	go io.Copy(io.Discard, ptmx) // the terminal's echo

	var mu sync.Mutex
	var stderr bytes.Buffer
	asked := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		once := sync.Once{}
		for {
			n, err := errR.Read(buf)
			mu.Lock()
			stderr.Write(buf[:n])
			if strings.Contains(stderr.String(), "[y/N] ") {
				once.Do(func() { close(asked) })
			}
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait(); errW.Close() }()
	select {
	case <-asked:
		if _, err := io.WriteString(ptmx, answer+"\n"); err != nil {
			t.Fatal(err)
		}
	case err := <-waited:
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("brokerkit %s exited (%v) without asking:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	err = <-waited
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return result{stdout.String(), stderr.String(), code}
}

// TestStatAndPurge: publish 100, handle 40, and the backlog is 60 (Kafka:
// the lag summed over the partitions); purge drops it, after asking.
func TestStatAndPurge(t *testing.T) {
	t.Parallel()
	backends := map[string]func(t *testing.T) string{"kafka": sharedKafka, "amqp": rabbit}
	for name, url := range backends {
		t.Run(name, func(t *testing.T) {
			u := url(t)
			topic := brokertest.Name(t, "stat")
			const group = "G"
			if name == "amqp" {
				deleteAMQP(t, u, []string{topic}, []string{amqpQueue(topic, group)})
			}
			subArgs := []string{"sub", u, topic, "--group", group, "--count", "40", "--format", "json", "--timeout", "90s"}
			if name == "kafka" {
				subArgs = append(subArgs, "--from", "oldest")
			}
			sub := start(t, subArgs...)
			sub.waitLine("subscribed to " + topic)
			if r := runOK(t, nil, "pub", u, topic, "--count", "100"); !strings.Contains(r.stdout, "confirmed 100 messages") {
				t.Fatalf("pub said %q", r.stdout)
			}
			if code := sub.wait(); code != 0 {
				t.Fatalf("sub exit %d: %s", code, sub.errOut())
			}
			if n := len(subJSON(t, sub.out())); n != 40 {
				t.Fatalf("sub printed %d messages, want 40", n)
			}

			st := waitBacklog(t, u, topic, group, 60)
			if st.Consumers != 0 {
				t.Errorf("%d consumers after sub exited", st.Consumers)
			}
			switch name {
			case "kafka":
				checkKafkaStat(t, st, 2)
			case "amqp":
				if st.Ready != 60 || st.Unacked != nil || st.Partitions != nil {
					t.Errorf("ready %d, unacked %v (want null: AMQP cannot tell), partitions %v", st.Ready, st.Unacked, st.Partitions)
				}
			}
			text := runOK(t, nil, "stat", u, topic, "--group", group)
			for _, re := range []string{`(?m)^backlog\s+60$`, `(?m)^consumers\s+0$`, `(?m)^group\s+G$`} {
				if !regexp.MustCompile(re).MatchString(text.stdout) {
					t.Errorf("stat output does not match %s:\n%s", re, text.stdout)
				}
			}
			if name == "kafka" && !regexp.MustCompile(`(?m)^\s+total\s+60\s*$`).MatchString(text.stdout) {
				t.Errorf("no total lag row:\n%s", text.stdout)
			}
			if name == "amqp" && !regexp.MustCompile(`(?m)^in flight\s+unknown$`).MatchString(text.stdout) {
				t.Errorf("in flight not shown as unknown:\n%s", text.stdout)
			}

			// In a pipe, without --yes: refused, nothing dropped.
			r := runBin(t, []byte("y\n"), nil, "purge", u, topic, "--group", group)
			if r.code != exitUsage || !strings.Contains(r.stderr, "stdin is not a terminal; pass --yes") {
				t.Errorf("purge in a pipe: exit %d (want %d), stderr %q", r.code, exitUsage, r.stderr)
			}
			// On a terminal, "n": nothing dropped.
			r = ptyRun(t, "n", "purge", u, topic, "--group", group)
			if r.code != exitFailure || !strings.Contains(r.stderr, "not confirmed: nothing was changed") {
				t.Errorf("purge answered n: exit %d, stderr %q", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, "Drop the 60 message(s) of the backlog of group G on "+topic) {
				t.Errorf("the question does not show the backlog: %q", r.stderr)
			}
			if st := statOf(t, u, topic, group); st.Backlog != 60 {
				t.Fatalf("backlog %d after refused purges, want 60", st.Backlog)
			}
			// "y": dropped.
			r = ptyRun(t, "y", "purge", u, topic, "--group", group)
			if r.code != 0 || !strings.Contains(r.stdout, "dropped 60 messages of group G on "+topic) {
				t.Errorf("purge answered y: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			st = statOf(t, u, topic, group)
			if st.Backlog != 0 {
				t.Errorf("backlog %d after purge, want 0", st.Backlog)
			}
			if name == "kafka" {
				checkKafkaStat(t, st, 2)
			}

			// Ten more, then purge --yes, with no question asked.
			runOK(t, nil, "pub", u, topic, "--count", "10")
			waitBacklog(t, u, topic, group, 10)
			r = runOK(t, nil, "purge", u, topic, "--group", group, "--yes")
			if !strings.Contains(r.stdout, "dropped 10 messages") || r.stderr != "" {
				t.Errorf("purge --yes: stdout %q, stderr %q", r.stdout, r.stderr)
			}
			if st := statOf(t, u, topic, group); st.Backlog != 0 {
				t.Errorf("backlog %d after purge --yes, want 0", st.Backlog)
			}

			// A live member is counted; Kafka refuses to purge under it.
			live := start(t, "sub", u, topic, "--group", group, "--format", "json")
			live.waitLine("subscribed to " + topic)
			limit := time.Now().Add(time.Minute)
			for statOf(t, u, topic, group).Consumers != 1 {
				if time.Now().After(limit) {
					t.Fatalf("stat does not count the live subscriber: %+v", statOf(t, u, topic, group))
				}
				time.Sleep(200 * time.Millisecond)
			}
			r = runBin(t, nil, nil, "purge", u, topic, "--group", group, "--yes")
			switch name {
			case "kafka":
				if r.code != exitInvalid || !strings.Contains(r.stderr, "live member") {
					t.Errorf("purge of a Kafka group with a member: exit %d (want %d), stderr %q", r.code, exitInvalid, r.stderr)
				}
			case "amqp":
				if r.code != 0 || !strings.Contains(r.stdout, "dropped 0 messages") {
					t.Errorf("purge of a queue with a consumer: exit %d, %q %q", r.code, r.stdout, r.stderr)
				}
			}
			if code := live.interrupt(); code != 0 {
				t.Errorf("sub after Ctrl-C: exit %d", code)
			}
		})
	}
}

func TestStatWatch(t *testing.T) {
	t.Parallel()
	u := sharedKafka(t)
	topic := brokertest.Name(t, "watch")
	runOK(t, nil, "pub", u, topic, "--count", "5")
	runOK(t, nil, "sub", u, topic, "--group", "W", "--from", "oldest", "--count", "5", "-q")
	w := start(t, "stat", u, topic, "--group", "W", "--watch", "100ms")
	w.waitMatch(regexp.MustCompile(`^\d{4}-\d\d-\d\dT\S+ backlog=0 consumers=0 p0=0 p1=0$`))
	runOK(t, nil, "pub", u, topic, "--count", "3")
	w.waitMatch(regexp.MustCompile(` backlog=3 consumers=0 p0=\d+ p1=\d+$`))
	if code := w.interrupt(); code != 0 {
		t.Errorf("stat --watch after Ctrl-C: exit %d, stderr %s", code, w.errOut())
	}
}

func TestTopicCreateDeleteKafka(t *testing.T) {
	t.Parallel()
	u := sharedKafka(t)
	topic := brokertest.Name(t, "topic")
	r := runOK(t, nil, "topic", "create", u, topic, "--partitions", "3", "--replication-factor", "1")
	if !strings.Contains(r.stdout, "created topic "+topic) {
		t.Errorf("topic create said %q", r.stdout)
	}
	// Six messages handled by a group: stat then shows the three partitions.
	runOK(t, nil, "pub", u, topic, "--count", "6")
	runOK(t, nil, "sub", u, topic, "--group", "G", "--from", "oldest", "--count", "6", "-q")
	st := statOf(t, u, topic, "G")
	checkKafkaStat(t, st, 3)
	if st.Backlog != 0 {
		t.Errorf("backlog %d after handling everything", st.Backlog)
	}
	runOK(t, nil, "pub", u, topic, "--count", "5")
	checkKafkaStat(t, waitBacklog(t, u, topic, "G", 5), 3)

	if r := runBin(t, nil, nil, "topic", "delete", u, topic); r.code != exitUsage || !strings.Contains(r.stderr, "pass --yes") {
		t.Errorf("topic delete in a pipe: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := ptyRun(t, "no", "topic", "delete", u, topic); r.code != exitFailure || !strings.Contains(r.stderr, "Delete topic "+topic) {
		t.Errorf("topic delete answered no: exit %d, stderr %q", r.code, r.stderr)
	}
	statOf(t, u, topic, "G") // still there
	r = ptyRun(t, "yes", "topic", "delete", u, topic)
	if r.code != 0 || !strings.Contains(r.stdout, "deleted topic "+topic) {
		t.Errorf("topic delete answered yes: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runBin(t, nil, nil, "stat", u, topic, "--group", "G")
	if r.code != exitNotFound || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("stat of a deleted topic: exit %d (want %d), stderr %q", r.code, exitNotFound, r.stderr)
	}
	r = runBin(t, nil, nil, "topic", "delete", u, topic, "--yes")
	if r.code != exitNotFound {
		t.Errorf("deleting a missing Kafka topic: exit %d (want %d), stderr %q", r.code, exitNotFound, r.stderr)
	}
	r = runBin(t, nil, nil, "topic", "create", u, topic, "--kind", "fanout")
	if r.code != exitInvalid || !strings.Contains(r.stderr, "no meaning on Kafka") {
		t.Errorf("--kind on Kafka: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestTopicCreateDeleteAMQP(t *testing.T) {
	t.Parallel()
	u := rabbit(t)
	topic := brokertest.Name(t, "topic")
	deleteAMQP(t, u, []string{topic}, []string{amqpQueue(topic, "G")})
	exists := func() bool { return brokertest.RabbitMQExchangeExists(t, u, topic) }
	r := runOK(t, nil, "topic", "create", u, topic, "--kind", "fanout")
	if !strings.Contains(r.stdout, "created topic "+topic) || strings.Contains(r.stdout, "guest:guest") {
		t.Errorf("topic create said %q", r.stdout)
	}
	if !exists() {
		t.Fatal("no exchange after topic create")
	}
	// The kind was applied: declaring it as another kind is refused.
	r = runBin(t, nil, nil, "topic", "create", u, topic, "--kind", "direct")
	if r.code != exitInvalid || !strings.Contains(r.stderr, "PRECONDITION_FAILED") {
		t.Errorf("create as another kind: exit %d (want %d), stderr %q", r.code, exitInvalid, r.stderr)
	}
	// A group's queue bound to it gets what pub sends; stat sees it.
	fanout := u + "?exchange_type=fanout"
	sub := start(t, "sub", fanout, topic, "--group", "G", "--count", "1")
	sub.waitLine("subscribed to " + topic)
	runOK(t, nil, "pub", fanout, topic, "--count", "3")
	if code := sub.wait(); code != 0 {
		t.Fatalf("sub exit %d: %s", code, sub.errOut())
	}
	waitBacklog(t, u, topic, "G", 2)

	if r := ptyRun(t, "n", "topic", "delete", u, topic); r.code != exitFailure {
		t.Errorf("topic delete answered n: exit %d, stderr %q", r.code, r.stderr)
	}
	if !exists() {
		t.Fatal("the exchange went although the answer was n")
	}
	r = runOK(t, nil, "topic", "delete", u, topic, "--yes")
	if !strings.Contains(r.stdout, "deleted topic "+topic) {
		t.Errorf("topic delete said %q", r.stdout)
	}
	if exists() {
		t.Fatal("the exchange is still there after topic delete")
	}
	// The group's queue stays, with its messages.
	if st := statOf(t, u, topic, "G"); st.Backlog != 2 {
		t.Errorf("backlog %d after the exchange was deleted, want 2", st.Backlog)
	}
	r = runBin(t, nil, nil, "stat", u, topic, "--group", "nobody")
	if r.code != exitNotFound || !strings.Contains(r.stderr, "NOT_FOUND") {
		t.Errorf("stat of a missing queue: exit %d (want %d), stderr %q", r.code, exitNotFound, r.stderr)
	}
}

func TestAdminErrors(t *testing.T) {
	t.Parallel()
	const password = "s3cret-pw-do-not-show"
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"stat without group", []string{"stat", "mem://", "t"}, exitUsage, "--group is required"},
		{"purge without group", []string{"purge", "mem://", "t", "--yes"}, exitUsage, "--group is required"},
		{"negative partitions", []string{"topic", "create", "mem://", "t", "--partitions", "-1"}, exitUsage, "must not be negative"},
		{"topic without subcommand argument", []string{"topic", "delete"}, exitUsage, "accepts between 1 and 2 arg(s)"},
		{"stat of a group that never subscribed", []string{"stat", "mem://", "t", "--group", "g"}, exitNotFound, "never subscribed"},
		{"stat unreachable", []string{"stat", "amqp://guest:" + password + "@127.0.0.1:1/", "t", "--group", "g", "--connect-timeout", "2s"}, exitUnavailable, "amqp://guest:xxxxx@127.0.0.1:1/ did not answer within --connect-timeout 2s"},
		{"purge unreachable", []string{"purge", "amqp://guest:" + password + "@127.0.0.1:1/", "t", "--group", "g", "--yes", "--connect-timeout", "2s"}, exitUnavailable, "did not answer within --connect-timeout 2s"},
		{"topic create unreachable", []string{"topic", "create", "kafka://127.0.0.1:1", "t", "--connect-timeout", "2s"}, exitUnavailable, "did not answer within --connect-timeout 2s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runBin(t, nil, nil, c.args...)
			if r.code != c.code || !strings.Contains(r.stderr, c.stderr) {
				t.Errorf("exit %d (want %d), stderr %q (want %q)", r.code, c.code, r.stderr, c.stderr)
			}
			if !strings.HasPrefix(r.stderr, "brokerkit: ") || r.stdout != "" {
				t.Errorf("error not on stderr as 'brokerkit: ...': stdout %q stderr %q", r.stdout, r.stderr)
			}
			if strings.Contains(r.stdout+r.stderr, password) {
				t.Errorf("the password is shown: %s %s", r.stdout, r.stderr)
			}
		})
	}
	t.Run("memory in one process", func(t *testing.T) {
		// A topic created on mem:// lives as long as the process: create
		// and delete work, and say so.
		runOK(t, nil, "topic", "create", "mem://", "t")
		runOK(t, nil, "topic", "delete", "mem://", "t", "--yes")
	})
}

// noCaps is a backend without the optional capabilities. mem://, kafka://
// and amqp:// all have them, so this test runs the command in process
// (run) with a scheme registered only in the test binary.
type noCaps struct{}

func (noCaps) OpenPublisher(context.Context, *url.URL, transport.OpenConfig) (transport.Publisher, error) {
	return noCapsPublisher{}, nil
}

func (noCaps) OpenSubscriber(context.Context, *url.URL, transport.OpenConfig) (transport.Subscriber, error) {
	return nil, fmt.Errorf("nocaps: no subscriber")
}

type noCapsPublisher struct{}

func (noCapsPublisher) Publish(context.Context, string, ...*transport.Message) error { return nil }
func (noCapsPublisher) Close() error                                                 { return nil }

func init() { transport.Register("nocaps", noCaps{}) }

func TestUnsupportedBackend(t *testing.T) {
	for _, args := range [][]string{
		{"stat", "nocaps://x", "t", "--group", "g"},
		{"purge", "nocaps://x", "t", "--group", "g", "--yes"},
		{"topic", "create", "nocaps://x", "t"},
		{"topic", "delete", "nocaps://x", "t", "--yes"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(args, strings.NewReader(""), &stdout, &stderr)
		if code != exitUnsupported || !strings.Contains(stderr.String(), "unsupported operation") || !strings.Contains(stderr.String(), "does not offer") {
			t.Errorf("%s: exit %d (want %d), stderr %q", strings.Join(args, " "), code, exitUnsupported, stderr.String())
		}
		if stdout.Len() != 0 {
			t.Errorf("%s: stdout %q", strings.Join(args, " "), stdout.String())
		}
	}
}
