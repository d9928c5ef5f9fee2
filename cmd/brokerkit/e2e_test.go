package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brokerkit/brokerkit/amqp"
	"github.com/brokerkit/brokerkit/brokertest"
)

func TestHelpOnEveryCommand(t *testing.T) {
	t.Parallel()
	root := runOK(t, nil, "--help")
	for _, want := range []string{"Exit codes:", "BROKERKIT_URL", "pub", "sub", "bridge", "bench", "dev", "demo", "stat", "purge", "topic", "completion"} {
		if !strings.Contains(root.stdout, want) {
			t.Errorf("brokerkit --help lacks %q:\n%s", want, root.stdout)
		}
	}
	for _, cmd := range [][]string{{"pub"}, {"sub"}, {"bridge"}, {"bench"}, {"dev", "kafka"}, {"demo"}, {"stat"}, {"purge"}, {"topic", "create"}, {"topic", "delete"}} {
		r := runOK(t, nil, append(cmd, "--help")...)
		if !strings.Contains(r.stdout, "Examples:") || !strings.Contains(r.stdout, "brokerkit "+cmd[0]) {
			t.Errorf("brokerkit %s --help has no examples:\n%s", strings.Join(cmd, " "), r.stdout)
		}
	}
}

func TestCompletion(t *testing.T) {
	t.Parallel()
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		r := runOK(t, nil, "completion", sh)
		if !strings.Contains(r.stdout, "brokerkit") {
			t.Errorf("completion %s: %q", sh, r.stdout[:min(200, len(r.stdout))])
		}
	}
	// What the shell scripts ask the binary: flag values and subcommands.
	r := runOK(t, nil, "__complete", "sub", "mem://", "t", "--format", "")
	if !strings.Contains(r.stdout, "text\njson\n") {
		t.Errorf("completing --format: %q", r.stdout)
	}
	r = runOK(t, nil, "__complete", "b")
	if !strings.Contains(r.stdout, "bench") || !strings.Contains(r.stdout, "bridge") {
		t.Errorf("completing b: %q", r.stdout)
	}
}

func TestDemo(t *testing.T) {
	t.Parallel()
	r := runOK(t, nil, "demo")
	for _, want := range []string{
		"handled order-1: 2 x book",
		"dedup: order-2 was handled already",
		"retry: order-3 failed (payment service timed out); try 2",
		"the dead-letter topic orders.dlq got poison-1",
		"7 messages delivered: 5 orders handled, 1 duplicate skipped, 1 dead-lettered, 1 retry",
		"latency",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
	// The latency table counts the 7 deliveries (the duplicate included).
	for _, row := range []string{"transmission", "processing", "end to end"} {
		if !strings.Contains(r.stdout, row+"  7 ") {
			t.Errorf("demo latency row %q does not count 7 messages:\n%s", row, r.stdout)
		}
	}
}

// subJSON parses `sub --format json` output.
func subJSON(t *testing.T, out string) []jsonMessage {
	t.Helper()
	var msgs []jsonMessage
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var m jsonMessage
		if err := dec.Decode(&m); err == io.EOF {
			return msgs
		} else if err != nil {
			t.Fatalf("sub output is not JSON lines: %v\n%s", err, out)
		}
		msgs = append(msgs, m)
	}
}

func TestPubSubRoundTrip(t *testing.T) {
	t.Parallel()
	backends := map[string]func(t *testing.T) string{"kafka": sharedKafka, "amqp": rabbit}
	for name, url := range backends {
		t.Run(name, func(t *testing.T) {
			u := url(t)
			topic := brokertest.Name(t, "cli")
			if name == "amqp" {
				deleteAMQP(t, u, []string{topic}, nil)
			}
			jsonSub := start(t, "sub", u, topic, "--format", "json", "--count", "4", "--timeout", "90s")
			textSub := start(t, "sub", u, topic, "--format", "text", "--count", "4", "--timeout", "90s")
			jsonSub.waitLine("subscribed to " + topic)
			textSub.waitLine("subscribed to " + topic)

			r := runOK(t, []byte("first line\nsecond line\n"), "pub", u, topic, "--key", "k-text", "-H", "source=cli", "-H", "content-type=text/plain")
			if !strings.Contains(r.stdout, "confirmed 2 messages") {
				t.Errorf("pub said %q", r.stdout)
			}
			binary := []byte{0, 1, 2, 0xff, 0xfe, '\n', 'x'}
			lines := fmt.Sprintf(`{"id":"json-1","key":"k-json","metadata":{"a":"1","ünï":"çödé","empty":""},"payload":"{\"total\":42}"}
{"id":"bin-1","payload_base64":%q}
`, base64.StdEncoding.EncodeToString(binary))
			r = runOK(t, []byte(lines), "pub", u, topic, "--format", "json")
			if !strings.Contains(r.stdout, "confirmed 2 messages") {
				t.Errorf("pub said %q", r.stdout)
			}
			if code := jsonSub.wait(); code != 0 {
				t.Fatalf("json sub exit %d: %s", code, jsonSub.errOut())
			}
			if code := textSub.wait(); code != 0 {
				t.Fatalf("text sub exit %d: %s", code, textSub.errOut())
			}
			got := map[string]jsonMessage{}
			for _, m := range subJSON(t, jsonSub.out()) {
				key := m.ID
				if m.Payload != nil && strings.HasSuffix(*m.Payload, "line") {
					key = *m.Payload
				}
				got[key] = m
			}
			for _, line := range []string{"first line", "second line"} {
				m, ok := got[line]
				if !ok || m.Key != "k-text" || m.Metadata["source"] != "cli" || m.Metadata["content-type"] != "text/plain" || m.ID == "" || m.Topic != topic {
					t.Errorf("%q arrived as %+v", line, m)
				}
			}
			j := got["json-1"]
			if j.Payload == nil || *j.Payload != `{"total":42}` || j.Key != "k-json" || j.Metadata["a"] != "1" || j.Metadata["ünï"] != "çödé" {
				t.Errorf("json-1 arrived as %+v", j)
			}
			if v, ok := j.Metadata["empty"]; !ok || v != "" {
				t.Errorf("json-1 lost its empty metadata value: %+v", j.Metadata)
			}
			b := got["bin-1"]
			if b.PayloadBase64 == nil || b.Payload != nil {
				t.Fatalf("binary payload not shown as base64: %+v", b)
			}
			if raw, _ := base64.StdEncoding.DecodeString(*b.PayloadBase64); !bytes.Equal(raw, binary) {
				t.Errorf("binary payload arrived as %x, sent %x", raw, binary)
			}
			if b.Attempt < 1 && name == "kafka" {
				t.Errorf("attempt not shown: %+v", b)
			}

			text := textSub.out()
			for _, want := range []string{"first line\n", "second line\n", `key="k-text"`, "source=cli", "id=json-1", `{"total":42}`, "(binary, 7 bytes) base64:" + base64.StdEncoding.EncodeToString(binary)} {
				if !strings.Contains(text, want) {
					t.Errorf("text output lacks %q:\n%s", want, text)
				}
			}
			if bytes.ContainsAny([]byte(text), "\x00\xff") {
				t.Errorf("text output has raw binary bytes:\n%q", text)
			}
			if !strings.Contains(jsonSub.errOut(), "4 messages in") {
				t.Errorf("no summary on stderr: %s", jsonSub.errOut())
			}
		})
	}
}

func TestBenchJSONOnEveryBackend(t *testing.T) {
	t.Parallel()
	backends := map[string]func(t *testing.T) string{
		"mem":   func(*testing.T) string { return "mem://bench-test" },
		"kafka": sharedKafka,
		"amqp":  rabbit,
	}
	for name, url := range backends {
		t.Run(name, func(t *testing.T) {
			u := url(t)
			topic := brokertest.Name(t, "bench")
			if name == "amqp" {
				deleteAMQP(t, u, []string{topic}, nil)
			}
			const n = 400
			r := runOK(t, nil, "bench", u, "--json", "-n", fmt.Sprint(n), "-s", "64", "-p", "2", "-c", "2", "--topic", topic)
			if r.stderr != "" {
				t.Errorf("stderr not empty in a pipe (no progress bar expected): %q", r.stderr)
			}
			var res benchResult
			if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
				t.Fatalf("bench --json: %v\n%s", err, r.stdout)
			}
			checkBench(t, res, n)
		})
	}
}

func checkBench(t *testing.T, res benchResult, n int) {
	t.Helper()
	if res.Messages != n || res.Published != int64(n) || res.Consumed != int64(n) || res.Deliveries != res.Consumed+res.Duplicates {
		t.Errorf("counts: messages %d published %d consumed %d deliveries %d duplicates %d", res.Messages, res.Published, res.Consumed, res.Deliveries, res.Duplicates)
	}
	if res.Publish.MsgsPerSec <= 0 || res.Consume.MsgsPerSec <= 0 || res.Publish.Seconds <= 0 || res.Consume.Seconds <= 0 {
		t.Errorf("rates: publish %+v consume %+v", res.Publish, res.Consume)
	}
	for name, l := range map[string]latency{"transmission": res.Transmission, "processing": res.Processing, "end to end": res.EndToEnd} {
		// Every delivery is measured, duplicates included.
		if l.Count != uint64(res.Deliveries) {
			t.Errorf("%s: %d measured, %d deliveries", name, l.Count, res.Deliveries)
		}
		if !(0 <= l.P50Ns && l.P50Ns <= l.P90Ns && l.P90Ns <= l.P99Ns && l.P99Ns <= l.P999Ns && l.P999Ns <= l.MaxNs && l.MeanNs <= l.MaxNs) {
			t.Errorf("%s: quantiles out of order: %+v", name, l)
		}
	}
	// End to end includes transmission and processing.
	if res.EndToEnd.MaxNs < res.Transmission.MaxNs || res.EndToEnd.MaxNs < res.Processing.MaxNs || res.EndToEnd.MeanNs < res.Transmission.MeanNs {
		t.Errorf("end to end %+v below transmission %+v or processing %+v", res.EndToEnd, res.Transmission, res.Processing)
	}
	if len(res.Series) == 0 {
		t.Fatal("no rate series")
	}
	last := res.Series[len(res.Series)-1]
	if last.Published != int64(n) || last.Consumed != int64(n) {
		t.Errorf("series ends at %+v, want %d both", last, n)
	}
	for i := 1; i < len(res.Series); i++ {
		a, b := res.Series[i-1], res.Series[i]
		if b.Seconds < a.Seconds || b.Published < a.Published || b.Consumed < a.Consumed {
			t.Errorf("series goes back: %+v then %+v", a, b)
		}
	}
}

func TestBenchPlot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pngFile, svgFile := filepath.Join(dir, "b.png"), filepath.Join(dir, "b.svg")
	r := runOK(t, nil, "bench", "mem://plot-test", "-n", "2000", "--rate", "20000", "--interval", "10ms", "--plot", pngFile)
	if !strings.Contains(r.stdout, "plot written to "+pngFile) || !strings.Contains(r.stdout, "end to end") {
		t.Errorf("bench output: %s", r.stdout)
	}
	f, err := os.Open(pngFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the PNG does not decode: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 400 {
		t.Errorf("PNG of %v", b)
	}

	runOK(t, nil, "bench", "mem://plot-test", "-n", "500", "--json", "--plot", svgFile)
	data, err := os.ReadFile(svgFile)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	var root string
	var texts []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
		case xml.CharData:
			texts = append(texts, string(tok))
		}
	}
	all := strings.Join(texts, " ")
	if root != "svg" || !strings.Contains(all, "end to end") || !strings.Contains(all, "Rate over time") {
		t.Errorf("SVG root %q, texts %q", root, all)
	}

	if r := runBin(t, nil, nil, "bench", "mem://", "-n", "1", "--plot", filepath.Join(dir, "b.gif")); r.code != exitUsage || !strings.Contains(r.stderr, ".png or .svg") {
		t.Errorf("--plot b.gif: exit %d, %s", r.code, r.stderr)
	}
}

func TestErrorsAndExitCodes(t *testing.T) {
	t.Parallel()
	const password = "s3cret-pw-do-not-show"
	cases := []struct {
		name   string
		env    []string
		stdin  string
		args   []string
		code   int
		stderr string
	}{
		{"unknown URL option", nil, "x\n", []string{"pub", "mem://?bogus=1", "t"}, exitInvalid, `unknown option "bogus"`},
		{"unknown scheme", nil, "x\n", []string{"pub", "nats://127.0.0.1", "t"}, exitInvalid, `unknown broker URL scheme "nats"`},
		{"unknown kafka option", nil, "", []string{"bench", "kafka://127.0.0.1:9092?acks=all&lingr=1", "-n", "1"}, exitInvalid, `unknown option "lingr"`},
		{"no URL", []string{EnvURL + "="}, "x\n", []string{"pub", "t"}, exitUsage, "set " + EnvURL},
		{"missing arguments", nil, "", []string{"bridge", "mem://", "a"}, exitUsage, "accepts 4 arg(s)"},
		{"unknown flag", nil, "", []string{"sub", "mem://", "t", "--frobnicate"}, exitUsage, "unknown flag: --frobnicate"},
		{"unknown command", nil, "", []string{"publish"}, exitUsage, `unknown command "publish"`},
		{"bad header", nil, "x\n", []string{"pub", "mem://", "t", "-H", "novalue"}, exitUsage, "want name=value"},
		{"bad JSON line", nil, "{nope\n", []string{"pub", "mem://", "t", "--format", "json"}, exitInvalid, "line 1"},
		{"from oldest on memory", nil, "", []string{"sub", "mem://", "t", "--from", "oldest"}, exitInvalid, "StartOldest"},
		{"unreachable", nil, "", []string{"sub", "amqp://guest:" + password + "@127.0.0.1:1/", "t", "--connect-timeout", "2s"}, exitUnavailable, "not subscribed on amqp://guest:xxxxx@127.0.0.1:1/ within --connect-timeout 2s"},
		{"unreachable publish", nil, "x\n", []string{"pub", "amqp://guest:" + password + "@127.0.0.1:1/", "t", "--connect-timeout", "2s"}, exitUnavailable, "did not confirm within --connect-timeout 2s"},
		{"sub timeout", nil, "", []string{"sub", "mem://", "t", "--count", "1", "--timeout", "100ms"}, exitTimeout, "with 0 of 1 messages"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runBin(t, []byte(c.stdin), c.env, c.args...)
			if r.code != c.code || !strings.Contains(r.stderr, c.stderr) {
				t.Errorf("exit %d (want %d), stderr %q (want %q)", r.code, c.code, r.stderr, c.stderr)
			}
			if !strings.HasPrefix(r.stderr, "brokerkit: ") || r.stdout != "" && c.args[0] != "pub" {
				t.Errorf("error not on stderr as 'brokerkit: ...': stdout %q stderr %q", r.stdout, r.stderr)
			}
			if strings.Contains(r.stdout+r.stderr, password) {
				t.Errorf("the password is shown: %s %s", r.stdout, r.stderr)
			}
		})
	}

	t.Run("refused login", func(t *testing.T) {
		u := rabbit(t)
		bad := strings.Replace(u, "guest:guest@", "guest:"+password+"@", 1)
		if bad == u {
			t.Fatalf("AMQP_URL %s is not guest:guest@: cannot make a wrong password", u)
		}
		for _, args := range [][]string{{"pub", bad, "t"}, {"sub", bad, "t"}, {"bench", bad, "-n", "1"}} {
			r := runBin(t, []byte("x\n"), nil, args...)
			if r.code != exitUnauthorized || !strings.Contains(r.stderr, "password not allowed") {
				t.Errorf("%s: exit %d (want %d), stderr %q", args[0], r.code, exitUnauthorized, r.stderr)
			}
			if strings.Contains(r.stdout+r.stderr, password) {
				t.Errorf("%s: the password is shown: %s %s", args[0], r.stdout, r.stderr)
			}
		}
	})

	t.Run("not confirmed", func(t *testing.T) {
		u := rabbit(t)
		topic := brokertest.Name(t, "unroutable")
		deleteAMQP(t, u, []string{topic}, nil)
		// mandatory=true: a message no queue takes is returned, not confirmed.
		r := runBin(t, []byte("lost\n"), nil, "pub", u+"?mandatory=true", topic)
		if r.code != exitNotConfirmed || !strings.Contains(r.stderr, "1 message(s) not confirmed") || !strings.Contains(r.stdout, "confirmed 0 messages") {
			t.Errorf("exit %d (want %d): %s %s", r.code, exitNotConfirmed, r.stdout, r.stderr)
		}
	})

	t.Run("BROKERKIT_URL", func(t *testing.T) {
		r := runBin(t, []byte("a\nb\n"), []string{EnvURL + "=mem://"}, "pub", "env-topic")
		if r.code != 0 || !strings.Contains(r.stdout, "confirmed 2 messages to env-topic") {
			t.Errorf("exit %d: %s %s", r.code, r.stdout, r.stderr)
		}
	})
}

// amqpQueue is the queue a bridge's group reads on RabbitMQ.
func amqpQueue(topic, group string) string { return amqp.DefaultQueueName(topic, group) }
