package main

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/brokerkit/brokerkit/brokertest"
)

// orderLines are n JSON messages for pub, numbered from first.
func orderLines(first, n int) []byte {
	var b bytes.Buffer
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&b, `{"id":"m-%04d","key":"k%d","metadata":{"n":"%d","source":"test"},"payload":"order %d"}`+"\n", i, i%5, i, i)
	}
	return b.Bytes()
}

var stoppedLine = regexp.MustCompile(`bridge stopped: received (\d+) forwarded (\d+) failed (\d+) skipped (\d+)`)

// TestBridgeKafkaToRabbitMQAndBack moves messages from Kafka to RabbitMQ
// with one bridge and back to Kafka with another, restarting the first in
// the middle of the stream: every message arrives, with its ID, key and
// metadata. Stopped gracefully (Ctrl-C), a bridge acknowledges every
// confirmed forward, so no message arrives twice either. Killed outright
// (SIGKILL), it may forward again what it had forwarded but not yet
// acknowledged: at least once, so duplicates are counted, not refused.
func TestBridgeKafkaToRabbitMQAndBack(t *testing.T) {
	t.Parallel()
	t.Run("graceful restart", func(t *testing.T) { bridgeThereAndBack(t, false) })
	t.Run("killed and restarted", func(t *testing.T) { bridgeThereAndBack(t, true) })
}

func bridgeThereAndBack(t *testing.T, kill bool) {
	k, a := sharedKafka(t), rabbit(t)
	src, mid, dst := brokertest.Name(t, "src"), brokertest.Name(t, "mid"), brokertest.Name(t, "dst")
	there, back := brokertest.Name(t, "there"), brokertest.Name(t, "back")
	deleteAMQP(t, a, []string{mid}, []string{amqpQueue(mid, back)})
	const n = 400

	collector := start(t, "sub", k, dst, "--format", "json", "--group", brokertest.Name(t, "check"), "--concurrency", "4")
	collector.waitLine("subscribed to")
	srcURL := k
	if kill {
		// The killed member leaves the group only when its session times
		// out: the shortest kfake accepts, so that the new one takes over.
		srcURL += "?session_timeout=6s&heartbeat_interval=500ms"
	}
	bridgeThere := func() *proc {
		p := start(t, "bridge", srcURL, src, a, mid, "--group", there, "--every", "100ms")
		p.waitLine("bridge subscribed")
		return p
	}
	b1 := bridgeThere()
	b2 := start(t, "bridge", a, mid, k, dst, "--group", back, "--every", "100ms")
	b2.waitLine("bridge subscribed")

	runOK(t, orderLines(0, n/2), "pub", k, src, "--format", "json", "--batch", "10")
	// Mid-stream: the first half is still being forwarded.
	if kill {
		b1.waitMatch(regexp.MustCompile(`forwarded [1-9]`))
		b1.kill()
	} else if code := b1.interrupt(); code != 0 {
		t.Fatalf("bridge exit %d: %s", code, b1.errOut())
	}
	// Kafka keeps the second half for the group while no bridge reads.
	runOK(t, orderLines(n/2, n/2), "pub", k, src, "--format", "json", "--batch", "10")
	b1b := bridgeThere()

	var got []jsonMessage
	distinct := map[string]jsonMessage{}
	deadline := time.Now().Add(90 * time.Second)
	for len(distinct) < n && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		got = subJSON(t, completeLines(collector.out()))
		for _, m := range got {
			distinct[m.ID] = m
		}
	}
	// Give duplicates, if any, a moment to show up before counting.
	time.Sleep(500 * time.Millisecond)
	for _, p := range []*proc{b1b, b2, collector} {
		if code := p.interrupt(); code != 0 {
			t.Errorf("%s: exit %d: %s", p.name, code, p.errOut())
		}
	}
	got = subJSON(t, collector.out())
	distinct = map[string]jsonMessage{}
	for _, m := range got {
		distinct[m.ID] = m
	}
	if len(distinct) != n {
		t.Fatalf("%d of %d messages arrived\nfirst bridge: %s\nsecond: %s\nreturn: %s", len(distinct), n, b1.errOut(), b1b.errOut(), b2.errOut())
	}
	for i := range n {
		m := distinct[fmt.Sprintf("m-%04d", i)]
		if m.Key != fmt.Sprintf("k%d", i%5) || m.Metadata["n"] != strconv.Itoa(i) || m.Metadata["source"] != "test" || m.Payload == nil || *m.Payload != fmt.Sprintf("order %d", i) {
			t.Fatalf("m-%04d arrived as %+v", i, m)
		}
	}
	dups := len(got) - n
	t.Logf("%d messages, %d duplicates; bridges: %q %q %q", n, dups,
		stoppedLine.FindString(b1.errOut()), stoppedLine.FindString(b1b.errOut()), stoppedLine.FindString(b2.errOut()))
	if kill {
		return // at least once: duplicates allowed, counted above
	}
	if dups != 0 {
		t.Errorf("%d duplicates after graceful restarts", dups)
	}
	// The two runs of the first bridge forwarded n together.
	var forwarded int
	for _, p := range []*proc{b1, b1b} {
		m := stoppedLine.FindStringSubmatch(p.errOut())
		if m == nil {
			t.Fatalf("no final counters: %s", p.errOut())
		}
		f, _ := strconv.Atoi(m[2])
		forwarded += f
	}
	if forwarded != n {
		t.Errorf("the first bridge forwarded %d in its two runs, want %d", forwarded, n)
	}
}

// completeLines drops a last line still being written.
func completeLines(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[:i+1]
	}
	return ""
}

func TestProgressBarOnlyOnATerminal(t *testing.T) {
	t.Parallel()
	args := []string{"bench", "mem://progress", "-n", "3000", "--rate", "6000", "--interval", "20ms"}
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	var screen bytes.Buffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			screen.Write(buf[:n])
			if err != nil { // EIO once the program exited
				return
			}
		}
	}()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("bench on a terminal: %v", err)
	}
	<-read
	out := screen.String()
	if !strings.Contains(out, "consumed") || !strings.Contains(out, "/3000") || !strings.Contains(out, "end to end") {
		t.Errorf("no progress bar on a terminal:\n%q", out)
	}

	r := runOK(t, nil, args...)
	if r.stderr != "" || strings.Contains(r.stdout, "/3000") {
		t.Errorf("a progress bar in a pipe: stderr %q", r.stderr)
	}
	if !strings.Contains(r.stdout, "end to end") {
		t.Errorf("no results in a pipe: %s", r.stdout)
	}
}

// TestDevKafkaDataDir: a restarted `dev kafka` with the same port and data
// directory still has the messages of before.
func TestDevKafkaDataDir(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	dir := t.TempDir()
	topic := brokertest.Name(t, "kept")

	k1 := start(t, "dev", "kafka", "--port", port, "--data-dir", dir)
	url := strings.TrimSpace(k1.waitLine("kafka://"))
	if url != "kafka://127.0.0.1:"+port {
		t.Fatalf("dev kafka printed %q", url)
	}
	runOK(t, []byte("one\ntwo\nthree\n"), "pub", url, topic)
	if code := k1.interrupt(); code != 0 {
		t.Fatalf("dev kafka exit %d: %s", code, k1.errOut())
	}

	k2 := start(t, "dev", "kafka", "--port", port, "--data-dir", dir)
	k2.waitLine("kafka://")
	r := runOK(t, nil, "sub", url, topic, "--from", "oldest", "--count", "3", "--format", "json", "--timeout", "60s")
	var payloads []string
	for _, m := range subJSON(t, r.stdout) {
		payloads = append(payloads, *m.Payload)
	}
	if strings.Join(payloads, ",") != "one,two,three" {
		t.Errorf("after a restart: %q", payloads)
	}
	if code := k2.interrupt(); code != 0 {
		t.Errorf("dev kafka exit %d", code)
	}
}

// TestBridgeDedup: a source holding every message twice (a producer that
// retried) reaches the destination once per ID with --dedup.
func TestBridgeDedup(t *testing.T) {
	t.Parallel()
	k, a := sharedKafka(t), rabbit(t)
	src, dst := brokertest.Name(t, "src"), brokertest.Name(t, "dst")
	deleteAMQP(t, a, []string{dst}, nil)
	const n = 50
	runOK(t, append(orderLines(0, n), orderLines(0, n)...), "pub", k, src, "--format", "json")

	collector := start(t, "sub", a, dst, "--format", "json")
	collector.waitLine("subscribed to")
	b := start(t, "bridge", k, src, a, dst, "--group", brokertest.Name(t, "g"), "--from", "oldest", "--dedup", "--every", "100ms")
	b.waitLine(fmt.Sprintf("received %d forwarded %d failed 0 skipped %d", 2*n, n, n))
	if code := b.interrupt(); code != 0 {
		t.Fatalf("bridge exit %d: %s", code, b.errOut())
	}
	// Every forward was confirmed before the counters said so; the last
	// copies are on their way to the collector.
	deadline := time.Now().Add(60 * time.Second)
	for len(subJSON(t, completeLines(collector.out()))) < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	collector.interrupt()
	got := subJSON(t, collector.out())
	seen := map[string]bool{}
	for _, m := range got {
		if seen[m.ID] {
			t.Errorf("%s arrived twice", m.ID)
		}
		seen[m.ID] = true
	}
	if len(seen) != n {
		t.Errorf("%d of %d arrived", len(seen), n)
	}
}

// TestLibraryPackagesDoNotImportCLIDependencies: a service that imports
// transport, a backend and middleware compiles none of the tool's libraries.
func TestLibraryPackagesDoNotImportCLIDependencies(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(goTool(), "list", "-deps", "../../transport", "../../kafka", "../../amqp", "../../memory", "../../middleware/...", "../../bridge")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, cli := range []string{"github.com/spf13/", "github.com/schollz/", "gonum.org/", "golang.org/x/term", "github.com/creack/pty", "github.com/brokerkit/brokerkit/cmd/"} {
			if strings.HasPrefix(dep, cli) {
				t.Errorf("a library package depends on %s", dep)
			}
		}
	}
}
