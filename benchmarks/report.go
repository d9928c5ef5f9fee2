package main

import (
	"fmt"
	"html"
	"io"
	"slices"
	"strings"
)

// row is the medians of one system on one workload over the rounds.
type row struct {
	Workload, Backend, System, Note string
	Raw                             bool
	Rounds, Failed                  int
	PubRate, E2ERate, CPU, P50, P99 float64
	E2ERatio, CPURatio              float64 // to the backend's raw client, 0 when unknown
	BKPub, BKE2E                    float64 // brokerkit's rate divided by this system's, 0 when unknown
	Err                             string
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}

func summarize(all []result, env *env) []row {
	var rows []row
	index := map[string]int{}
	samples := map[string][5][]float64{}
	for _, r := range all {
		key := r.Workload + "|" + r.Backend + "|" + r.System
		i, ok := index[key]
		if !ok {
			i = len(rows)
			index[key] = i
			s := env.lookup(r.Backend, r.System)
			rows = append(rows, row{Workload: r.Workload, Backend: r.Backend, System: r.System, Note: s.note, Raw: s.raw})
		}
		rows[i].Rounds++
		if r.Err != "" {
			rows[i].Failed++
			rows[i].Err = r.Err
			continue
		}
		s := samples[key]
		for j, v := range []float64{r.PubRate, r.E2ERate, r.CPUPerMsg, r.P50, r.P99} {
			s[j] = append(s[j], v)
		}
		samples[key] = s
	}
	for i := range rows {
		s := samples[rows[i].Workload+"|"+rows[i].Backend+"|"+rows[i].System]
		rows[i].PubRate, rows[i].E2ERate, rows[i].CPU = median(s[0]), median(s[1]), median(s[2])
		rows[i].P50, rows[i].P99 = median(s[3]), median(s[4])
	}
	for i := range rows {
		for _, raw := range rows {
			if raw.Raw && raw.Workload == rows[i].Workload && raw.Backend == rows[i].Backend && raw.E2ERate > 0 {
				rows[i].E2ERatio = rows[i].E2ERate / raw.E2ERate
				if rows[i].CPU > 0 && raw.CPU > 0 {
					rows[i].CPURatio = rows[i].CPU / raw.CPU
				}
			}
		}
	}
	for i := range rows {
		for _, bk := range rows { // the first brokerkit row: its defaults
			if strings.HasPrefix(bk.System, "brokerkit") && bk.Workload == rows[i].Workload && bk.Backend == rows[i].Backend {
				if rows[i].PubRate > 0 {
					rows[i].BKPub = bk.PubRate / rows[i].PubRate
				}
				if rows[i].E2ERate > 0 {
					rows[i].BKE2E = bk.E2ERate / rows[i].E2ERate
				}
				break
			}
		}
	}
	return rows
}

func backendLabel(b string) string {
	switch b {
	case "kafka":
		return "Kafka (kfake in process, not Apache Kafka)"
	case "amqp":
		return "RabbitMQ"
	}
	return "memory"
}

func printTable(w io.Writer, rows []row) {
	last := ""
	for _, r := range rows {
		if h := r.Workload + " — " + backendLabel(r.Backend); h != last {
			last = h
			fmt.Fprintf(w, "\n### %s\n\n", h)
			fmt.Fprintln(w, "| system | publish msg/s | end-to-end msg/s | x raw | client CPU µs/msg | CPU x raw | p50 µs | p99 µs | brokerkit ÷ this, publish | brokerkit ÷ this, end to end | note |")
			fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
		}
		note := r.Note
		if r.Failed > 0 {
			note = strings.TrimSpace(fmt.Sprintf("%s; failed %d of %d rounds: %s", note, r.Failed, r.Rounds, r.Err))
		}
		ratio := func(x float64) string {
			if x == 0 {
				return "–"
			}
			return fmt.Sprintf("%.2f", x)
		}
		fmt.Fprintf(w, "| %s | %.0f | %.0f | %s | %.1f | %s | %.0f | %.0f | %s | %s | %s |\n", r.System, r.PubRate, r.E2ERate,
			ratio(r.E2ERatio), r.CPU, ratio(r.CPURatio), r.P50, r.P99, ratio(r.BKPub), ratio(r.BKE2E),
			strings.TrimPrefix(note, "; "))
	}
}

// chart draws the end-to-end throughput of every system as a ratio to its
// backend's raw client, one group of bars per workload and backend.
func chart(rows []row) string {
	const left, width, barH, gap = 330, 420, 16, 4
	var b strings.Builder
	y := 40
	var body strings.Builder
	last := ""
	maxRatio := 1.0
	for _, r := range rows {
		maxRatio = max(maxRatio, r.E2ERatio)
	}
	scale := float64(width) / maxRatio
	for _, r := range rows {
		if h := r.Workload + " — " + backendLabel(r.Backend); h != last {
			last = h
			y += 10
			fmt.Fprintf(&body, `<text x="4" y="%d" font-weight="bold">%s</text>`+"\n", y+12, html.EscapeString(h))
			y += barH + gap
		}
		color := "#8da0cb"
		switch {
		case r.Raw:
			color = "#999999"
		case strings.HasPrefix(r.System, "brokerkit"):
			color = "#1b9e77"
		}
		fmt.Fprintf(&body, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-6, y+12, html.EscapeString(r.System))
		wbar := int(r.E2ERatio * scale)
		fmt.Fprintf(&body, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`+"\n", left, y, wbar, barH, color)
		label := fmt.Sprintf("%.2fx (%.0f msg/s)", r.E2ERatio, r.E2ERate)
		if r.E2ERate == 0 {
			label = "failed"
		}
		fmt.Fprintf(&body, `<text x="%d" y="%d">%s</text>`+"\n", left+wbar+4, y+12, label)
		y += barH + gap
	}
	oneX := left + int(scale)
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", left+width+160, y+20)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="4" y="18" font-size="14" font-weight="bold">End-to-end throughput, ratio to the raw client of the same backend (medians)</text>`+"\n")
	b.WriteString(body.String())
	fmt.Fprintf(&b, `<line x1="%d" y1="30" x2="%d" y2="%d" stroke="black" stroke-dasharray="4,3"/>`+"\n", oneX, oneX, y)
	fmt.Fprintf(&b, `<text x="%d" y="%d">1.0x raw</text>`+"\n", oneX-20, y+14)
	b.WriteString("</svg>\n")
	return b.String()
}
