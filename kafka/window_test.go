package kafka

import "testing"

func TestOffsetWindow(t *testing.T) {
	tests := []struct {
		name      string
		added     []int64
		finished  []int64
		wantFirst int64 // -1: none unfinished
		wantLen   int
	}{
		{"empty", nil, nil, -1, 0},
		{"none finished", []int64{5, 6, 7}, nil, 5, 3},
		{"prefix finished", []int64{5, 6, 7}, []int64{5, 6}, 7, 1},
		{"all finished", []int64{5, 6, 7}, []int64{7, 5, 6}, -1, 0},
		{"gap in the middle holds the prefix", []int64{5, 6, 7, 8}, []int64{5, 7, 8}, 6, 3},
		{"first unfinished holds everything", []int64{5, 6, 7}, []int64{6, 7}, 5, 3},
		{"sparse offsets (compaction)", []int64{3, 10, 42}, []int64{3, 42}, 10, 2},
		{"unknown offset is ignored", []int64{5, 6}, []int64{4, 9, 5}, 6, 1},
		{"finished twice", []int64{5, 6}, []int64{5, 5}, 6, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w offsetWindow
			for _, o := range tt.added {
				w.add(o)
			}
			for _, o := range tt.finished {
				w.finish(o)
			}
			first, ok := w.first()
			if !ok {
				first = -1
			}
			if first != tt.wantFirst || w.len() != tt.wantLen {
				t.Errorf("first=%d len=%d, want first=%d len=%d", first, w.len(), tt.wantFirst, tt.wantLen)
			}
		})
	}
}

// TestOffsetWindowLong finishes a long run out of order and checks the
// commit point after every step against a model.
func TestOffsetWindowLong(t *testing.T) {
	var w offsetWindow
	const n = 1000
	for o := int64(0); o < n; o++ {
		w.add(o)
	}
	done := make([]bool, n)
	// Finish odd offsets first, then even ones backwards.
	var order []int64
	for o := int64(1); o < n; o += 2 {
		order = append(order, o)
	}
	for o := int64(n - 2); o >= 0; o -= 2 {
		order = append(order, o)
	}
	for _, o := range order {
		w.finish(o)
		done[o] = true
		want := int64(-1)
		for i, d := range done {
			if !d {
				want = int64(i)
				break
			}
		}
		got, ok := w.first()
		if !ok {
			got = -1
		}
		if got != want {
			t.Fatalf("after finishing %d: first=%d, want %d", o, got, want)
		}
	}
	if w.len() != 0 {
		t.Fatalf("len=%d after finishing all", w.len())
	}
}
