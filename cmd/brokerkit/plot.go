package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/brokerkit/brokerkit/transport"
)

func plotFormat(name string) (string, error) {
	switch ext := strings.ToLower(filepath.Ext(name)); ext {
	case ".png", ".svg":
		return ext[1:], nil
	default:
		return "", usageErr{fmt.Errorf("bench: --plot %q: the name must end in .png or .svg", name)}
	}
}

var (
	colTransmission = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	colProcessing   = color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}
	colEndToEnd     = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
)

// writePlot draws two panels: the latency distribution (the share of
// messages at or under a latency, on a log scale, one line per latency) and
// the publish and consume rates over time.
func writePlot(name string, r benchResult, s *samples) error {
	format, err := plotFormat(name)
	if err != nil {
		return err
	}
	dist := plot.New()
	dist.Title.Text = fmt.Sprintf("Latency distribution: %d messages of %d B on %s", r.Messages, r.Size, r.URL)
	dist.X.Label.Text = "latency (ms, log scale)"
	dist.Y.Label.Text = "share of messages at or under"
	dist.X.Scale = plot.LogScale{}
	dist.X.Tick.Marker = plot.LogTicks{Prec: -1}
	dist.Y.Min, dist.Y.Max = 0, 1
	dist.Add(plotter.NewGrid())
	dist.Legend.Top = false
	dist.Legend.Left = false
	for _, l := range []struct {
		name string
		ns   []int64
		col  color.Color
	}{{"transmission", s.tx, colTransmission}, {"processing", s.proc, colProcessing}, {"end to end", s.e2e, colEndToEnd}} {
		line, err := plotter.NewLine(cdf(l.ns))
		if err != nil {
			return transport.Invalidf("plot: %v", err)
		}
		line.Color = l.col
		line.Width = vg.Points(1.5)
		if l.name == "end to end" {
			// Often on top of transmission: dashed, so both show.
			line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		dist.Add(line)
		dist.Legend.Add(l.name, line)
	}

	rate := plot.New()
	rate.Title.Text = "Rate over time"
	rate.X.Label.Text = "seconds since the first publish"
	rate.Y.Label.Text = "messages a second"
	rate.Add(plotter.NewGrid())
	rate.Y.Min = 0
	for _, l := range []struct {
		name string
		get  func(sample) int64
		col  color.Color
	}{{"published", func(s sample) int64 { return s.Published }, colTransmission},
		{"consumed", func(s sample) int64 { return s.Consumed }, colEndToEnd}} {
		line, err := plotter.NewLine(rates(r.Series, l.get))
		if err != nil {
			return transport.Invalidf("plot: %v", err)
		}
		line.Color = l.col
		line.Width = vg.Points(1.5)
		rate.Add(line)
		rate.Legend.Add(l.name, line)
	}

	const w, h = 20 * vg.Centimeter, 24 * vg.Centimeter
	var canvas vg.CanvasWriterTo
	switch format {
	case "png":
		canvas = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(110))}
	case "svg":
		canvas = vgsvg.New(w, h)
	}
	dc := draw.New(canvas)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Millimeter * 4, PadBottom: vg.Millimeter * 4,
		PadLeft: vg.Millimeter * 4, PadRight: vg.Millimeter * 6, PadY: vg.Millimeter * 10}
	plots := [][]*plot.Plot{{dist}, {rate}}
	cs := plot.Align(plots, tiles, dc)
	dist.Draw(cs[0][0])
	rate.Draw(cs[1][0])

	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	if _, err := canvas.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("plot: writing %s: %w", name, err)
	}
	return f.Close()
}

// cdf is the share of values at or under each value, in milliseconds, with
// at most about 1000 points; values under a microsecond count as one, for
// the log scale.
func cdf(ns []int64) plotter.XYs {
	v := slices.Clone(ns)
	slices.Sort(v)
	n := len(v)
	step := max(1, n/1000)
	var xy plotter.XYs
	for i := 0; i < n; i += step {
		xy = append(xy, plotter.XY{X: ms(v[i]), Y: float64(i+1) / float64(n)})
	}
	if n > 0 && (n-1)%step != 0 {
		xy = append(xy, plotter.XY{X: ms(v[n-1]), Y: 1})
	}
	if len(xy) == 0 {
		xy = plotter.XYs{{X: 1e-3, Y: 0}}
	}
	return xy
}

func ms(ns int64) float64 { return math.Max(float64(ns), 1e3) / 1e6 }

// rates turns cumulative counts into a rate per interval.
func rates(series []sample, get func(sample) int64) plotter.XYs {
	xy := plotter.XYs{{X: 0, Y: 0}}
	var prevT float64
	var prev int64
	for _, s := range series {
		if dt := s.Seconds - prevT; dt > 0 {
			xy = append(xy, plotter.XY{X: s.Seconds, Y: float64(get(s)-prev) / dt})
		}
		prevT, prev = s.Seconds, get(s)
	}
	return xy
}
