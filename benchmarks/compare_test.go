package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestMemorySystems runs every in-memory system through every workload once
// with a few messages: the comparison builds, each client publishes and
// drains, and the report renders. It measures nothing (no timing in tests).
func TestMemorySystems(t *testing.T) {
	e, err := newEnv(context.Background(), []string{"memory"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	var all []result
	for _, w := range workloads {
		n := w.publishers * 4
		for _, s := range e.systems("memory") {
			r := run(context.Background(), s, w, n, time.Minute)
			if r.Err != "" {
				t.Errorf("%s, %s: %s", w.name, s.name, r.Err)
			}
			all = append(all, r)
		}
	}
	rows := summarize(all, e)
	var b strings.Builder
	printTable(&b, rows)
	for _, s := range e.systems("memory") {
		if !strings.Contains(b.String(), "| "+s.name+" |") {
			t.Errorf("the table has no row for %s:\n%s", s.name, b.String())
		}
	}
	if svg := chart(rows); !strings.HasPrefix(svg, "<svg") || !strings.Contains(svg, "brokerkit memory") {
		t.Errorf("chart:\n%s", svg)
	}
}

func TestStampLatency(t *testing.T) {
	b := make([]byte, 16)
	stamp(b)
	if d := latency(b); d < 0 || d > time.Hour {
		t.Errorf("latency of a fresh stamp: %v", d)
	}
	if d := latency([]byte{1}); d != -1 {
		t.Errorf("latency of a short body: %v, want -1", d)
	}
}
