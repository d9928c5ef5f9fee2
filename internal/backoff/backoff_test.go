package backoff

import (
	"context"
	"testing"
	"time"
)

func TestDelaysDoubleUpToMax(t *testing.T) {
	b := Backoff{Min: time.Millisecond, Max: 4 * time.Millisecond}
	var got []time.Duration
	for range 5 {
		got = append(got, b.next)
		b.Wait(context.Background())
	}
	want := []time.Duration{0, 2, 4, 4, 4} // the delay the next Wait will use, after each
	for i := range want {
		want[i] *= time.Millisecond
	}
	for i := 1; i < len(want); i++ {
		if got[i] != want[i] {
			t.Fatalf("delays %v, want %v", got, want)
		}
	}
	b.Reset()
	if b.next != 0 {
		t.Error("Reset did not restart from the minimum")
	}
}

func TestWaitEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := Backoff{Min: time.Hour}
	if b.Wait(ctx) {
		t.Error("Wait on an ended context reported true")
	}
}
