package middleware

import (
	"fmt"
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// The histogram is log-linear, as HdrHistogram is: every power of two is cut
// into 2^subBits buckets of equal width. A bucket spans at most 1/32 of its
// lower bound, and a quantile is reported as the middle of its bucket, so it
// is within 1/64 (1.6%) of the true value. Durations under 64ns are exact.
const (
	subBits    = 5
	subCount   = 1 << subBits
	maxExp     = 44 // durations from 2^44ns (4h53m) up share the last bucket
	numBuckets = (maxExp - subBits + 1) * subCount
)

// HistogramPrecision is the largest relative error of a quantile a Histogram
// reports: 1/64.
const HistogramPrecision = 1.0 / (2 * subCount)

// Histogram records durations in fixed memory (10 KiB) with lock-free
// updates, and reports quantiles within HistogramPrecision. The maximum is
// exact. The zero value is ready to use; it is safe for concurrent use.
type Histogram struct {
	counts [numBuckets]atomic.Uint64
	sum    atomic.Uint64 // nanoseconds
	max    atomic.Int64  // nanoseconds
}

// Summary is a histogram's state at one moment.
type Summary struct {
	Count                    uint64
	Mean                     time.Duration
	P50, P90, P99, P999, Max time.Duration
}

func (s Summary) String() string {
	return fmt.Sprintf("n=%d mean=%v p50=%v p90=%v p99=%v p99.9=%v max=%v",
		s.Count, s.Mean, s.P50, s.P90, s.P99, s.P999, s.Max)
}

// Record adds one duration; negative ones count as 0.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))].Add(1)
	h.sum.Add(uint64(d))
	for {
		cur := h.max.Load()
		if int64(d) <= cur || h.max.CompareAndSwap(cur, int64(d)) {
			return
		}
	}
}

// Summary returns the count, mean, p50, p90, p99, p99.9 and max. Recording
// may go on meanwhile; the summary then mixes a little of before and after.
func (h *Histogram) Summary() Summary {
	var counts [numBuckets]uint64
	var n uint64
	for i := range counts {
		counts[i] = h.counts[i].Load()
		n += counts[i]
	}
	s := Summary{Count: n, Max: time.Duration(h.max.Load())}
	if n == 0 {
		return s
	}
	s.Mean = time.Duration(h.sum.Load() / n)
	s.P50 = quantile(&counts, n, 0.5, s.Max)
	s.P90 = quantile(&counts, n, 0.9, s.Max)
	s.P99 = quantile(&counts, n, 0.99, s.Max)
	s.P999 = quantile(&counts, n, 0.999, s.Max)
	return s
}

// Quantile returns the q-quantile (0 < q <= 1) by nearest rank: the smallest
// recorded duration that at least q of all are not above, within
// HistogramPrecision. It returns 0 when nothing was recorded.
func (h *Histogram) Quantile(q float64) time.Duration {
	var counts [numBuckets]uint64
	var n uint64
	for i := range counts {
		counts[i] = h.counts[i].Load()
		n += counts[i]
	}
	if n == 0 {
		return 0
	}
	return quantile(&counts, n, q, time.Duration(h.max.Load()))
}

func quantile(counts *[numBuckets]uint64, n uint64, q float64, maxSeen time.Duration) time.Duration {
	rank := uint64(math.Ceil(q * float64(n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen >= rank {
			lo, width := bucketRange(i)
			return min(time.Duration(lo+width/2), maxSeen)
		}
	}
	return maxSeen
}

func bucketOf(v uint64) int {
	if v < 2*subCount {
		return int(v)
	}
	e := bits.Len64(v) - 1
	if e >= maxExp {
		return numBuckets - 1
	}
	shift := e - subBits
	return (shift+1)*subCount + int(v>>shift) - subCount
}

// bucketRange returns the lowest value of bucket i and its width.
func bucketRange(i int) (lo, width uint64) {
	if i < 2*subCount {
		return uint64(i), 1
	}
	shift := i/subCount - 1
	return uint64(subCount+i%subCount) << shift, 1 << shift
}
