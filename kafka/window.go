package kafka

import "sort"

// offsetWindow tracks the offsets of one partition that were fetched but are
// not finished, in fetch order (ascending). The offset that is safe to commit
// is the first unfinished one: committing it never skips a message that a
// handler has not finished, whatever order handlers finish in.
type offsetWindow struct {
	entries []windowEntry
	head    int // entries before head are finished and forgotten
}

type windowEntry struct {
	offset int64
	done   bool
}

// add records a fetched offset; offsets must be added in ascending order.
func (w *offsetWindow) add(offset int64) {
	w.entries = append(w.entries, windowEntry{offset: offset})
}

// finish marks offset finished and reports whether the window shrank.
func (w *offsetWindow) finish(offset int64) bool {
	live := w.entries[w.head:]
	i := 0 // messages mostly finish in order: try the first one before searching
	if len(live) == 0 || live[0].offset != offset {
		i = sort.Search(len(live), func(i int) bool { return live[i].offset >= offset })
	}
	if i == len(live) || live[i].offset != offset {
		return false // not tracked: settled twice, or from before a reset
	}
	live[i].done = true
	if i != 0 {
		return false
	}
	for w.head < len(w.entries) && w.entries[w.head].done {
		w.head++
	}
	// Reclaim the finished prefix once it is half the slice.
	if w.head == len(w.entries) {
		w.entries, w.head = w.entries[:0], 0
	} else if w.head > len(w.entries)/2 {
		n := copy(w.entries, w.entries[w.head:])
		w.entries, w.head = w.entries[:n], 0
	}
	return true
}

// len is the number of tracked offsets not yet released by the prefix.
func (w *offsetWindow) len() int { return len(w.entries) - w.head }

// first returns the lowest unfinished offset, if any.
func (w *offsetWindow) first() (int64, bool) {
	if w.head == len(w.entries) {
		return 0, false
	}
	return w.entries[w.head].offset, true
}
