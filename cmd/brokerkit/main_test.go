package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/brokerkit/brokerkit/brokertest"
)

// bin is the brokerkit binary TestMain builds: the tests run it as a user
// would.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "brokerkit-cli-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "brokerkit")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command(goTool(), append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building brokerkit:", err)
		os.Exit(1)
	}
	code := m.Run()
	stopSharedKafka()
	os.RemoveAll(dir)
	os.Exit(code)
}

// goTool is the go command: go test puts its GOROOT/bin first in PATH.
func goTool() string { return "go" }

// result is what a finished run printed and its exit code.
type result struct {
	stdout, stderr string
	code           int
}

// run runs the binary to its end, with stdin and extra environment.
func runBin(t *testing.T, stdin []byte, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("brokerkit %s: %v", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	return result{out.String(), errOut.String(), code}
}

// runOK is run that fails the test unless the exit code is 0.
func runOK(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	r := runBin(t, stdin, nil, args...)
	if r.code != 0 {
		t.Fatalf("brokerkit %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// proc is the binary running in the background.
type proc struct {
	t      testing.TB
	name   string
	cmd    *exec.Cmd
	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	lines  chan string // stdout and stderr lines, as they come
	done   chan struct{}
	code   int
}

func start(t testing.TB, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: strings.Join(args, " "), lines: make(chan string, 10000), done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	outR, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var readers sync.WaitGroup
	copyLines := func(r io.Reader, buf *bytes.Buffer) {
		defer readers.Done()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			buf.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
	}
	readers.Add(2)
	go copyLines(outR, &p.stdout)
	go copyLines(errR, &p.stderr)
	go func() {
		readers.Wait()
		err := p.cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			p.code = ee.ExitCode()
		}
		close(p.done)
	}()
	if tt, ok := t.(*testing.T); ok {
		tt.Cleanup(func() { p.kill() })
	}
	return p
}

// waitLine returns the first line, on stdout or stderr, that contains s.
func (p *proc) waitLine(s string) string {
	p.t.Helper()
	limit := time.After(60 * time.Second)
	for {
		select {
		case l := <-p.lines:
			if strings.Contains(l, s) {
				return l
			}
		case <-p.done:
			// Lines may still be queued.
			for {
				select {
				case l := <-p.lines:
					if strings.Contains(l, s) {
						return l
					}
				default:
					p.t.Fatalf("brokerkit %s exited (%d) before printing %q\nstdout: %s\nstderr: %s", p.name, p.code, s, p.out(), p.errOut())
				}
			}
		case <-limit:
			p.t.Fatalf("brokerkit %s: no %q within a minute\nstderr: %s", p.name, s, p.errOut())
		}
	}
}

// waitMatch is waitLine with a regular expression.
func (p *proc) waitMatch(re *regexp.Regexp) string {
	p.t.Helper()
	limit := time.After(60 * time.Second)
	for {
		select {
		case l := <-p.lines:
			if re.MatchString(l) {
				return l
			}
		case <-p.done:
			p.t.Fatalf("brokerkit %s exited (%d) before printing %v\nstderr: %s", p.name, p.code, re, p.errOut())
		case <-limit:
			p.t.Fatalf("brokerkit %s: no %v within a minute\nstderr: %s", p.name, re, p.errOut())
		}
	}
}

func (p *proc) out() string    { p.mu.Lock(); defer p.mu.Unlock(); return p.stdout.String() }
func (p *proc) errOut() string { p.mu.Lock(); defer p.mu.Unlock(); return p.stderr.String() }

// wait returns the exit code once the process ended by itself.
func (p *proc) wait() int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(2 * time.Minute):
		p.t.Fatalf("brokerkit %s did not exit\nstderr: %s", p.name, p.errOut())
		return -1
	}
}

// interrupt sends Ctrl-C and waits for the exit code.
func (p *proc) interrupt() int {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	return p.wait()
}

func (p *proc) kill() {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// The Kafka of these tests: `brokerkit dev kafka`, started once.
var (
	kafkaOnce sync.Once
	kafkaProc *proc
	kafkaURL  string
)

type mainTB struct{ testing.TB }

func sharedKafka(t *testing.T) string {
	t.Helper()
	kafkaOnce.Do(func() {
		// Not t's cleanup: the broker outlives the test that started it.
		kp := start(mainTB{t}, "dev", "kafka", "--port", "0", "--partitions", "2")
		url := kp.waitLine("kafka://")
		kafkaProc, kafkaURL = kp, strings.TrimSpace(url)
	})
	if kafkaURL == "" {
		t.Fatal("dev kafka did not start")
	}
	return kafkaURL
}

func stopSharedKafka() {
	if kafkaProc != nil {
		_ = kafkaProc.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-kafkaProc.done:
		case <-time.After(30 * time.Second):
			kafkaProc.kill()
		}
	}
}

// rabbit returns AMQP_URL, or skips (fails with BROKERTEST_REQUIRE=1).
func rabbit(t *testing.T) string {
	t.Helper()
	return brokertest.RabbitMQ(t)
}

// deleteAMQP removes what a test created on the shared RabbitMQ.
func deleteAMQP(t *testing.T, url string, exchanges []string, queues []string) {
	t.Helper()
	t.Cleanup(func() { brokertest.DeleteRabbitMQ(t, url, exchanges, queues) })
}
