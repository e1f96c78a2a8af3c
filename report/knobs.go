package report

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// knobAxis describes how one knob's values are laid out on an x axis.
type knobAxis struct {
	v        *view
	name     string
	discrete bool      // integer values, few of them: jittered, one tick per value
	log      bool      // positive values over two decades or more: log axis
	values   []float64 // distinct values held by complete trials, sorted
	hasOff   bool      // some complete trial lacks the knob (it is off)
	off      float64   // where "off" goes on the axis
	lo, hi   float64   // axis range
}

func newKnobAxis(v *view, name string) knobAxis {
	ka := knobAxis{v: v, name: name, discrete: true}
	for _, t := range v.complete {
		x, ok := t.Knobs[name]
		if !ok {
			ka.hasOff = true
			continue
		}
		if !slices.Contains(ka.values, x) {
			ka.values = append(ka.values, x)
		}
		if x != math.Trunc(x) {
			ka.discrete = false
		}
	}
	slices.Sort(ka.values)
	lo, hi := ka.values[0], ka.values[len(ka.values)-1]
	if len(ka.values) > 24 && len(v.s.KnobLabels[name]) == 0 {
		ka.discrete = false
	}
	ka.log = !ka.discrete && lo > 0 && hi/lo >= 100
	switch {
	case ka.log:
		ka.off = hi * 10
		ka.lo, ka.hi = lo/1.6, hi*1.6
		if ka.hasOff {
			ka.hi = ka.off * 1.6
		}
	case ka.discrete:
		ka.off = hi + 1
		ka.lo, ka.hi = lo-0.6, hi+0.6
		if ka.hasOff {
			ka.hi = ka.off + 0.6
		}
	default:
		span := hi - lo
		if span == 0 {
			span = math.Max(math.Abs(hi), 1)
		}
		ka.off = hi + 0.2*span
		ka.lo, ka.hi = lo-0.05*span, hi+0.05*span
		if ka.hasOff {
			ka.hi = ka.off + 0.05*span
		}
	}
	return ka
}

// x returns where trial t goes on the axis: its value (jittered if discrete, so that
// trials with one value do not hide each other) or the "off" position.
func (ka knobAxis) x(t *Trial) float64 {
	x, ok := t.Knobs[ka.name]
	if !ok {
		x = ka.off
	}
	if ka.discrete {
		// A deterministic spread in [-0.18, 0.18] from the trial number (golden ratio).
		frac := math.Mod(float64(t.Number)*0.6180339887, 1)
		x += (frac - 0.5) * 0.36
	}
	return x
}

// Ticks implements plot.Ticker: one tick per value for a discrete knob or one with at
// most five values (a categorical knob's labelled with its names), the default or log
// ticks otherwise, and an "off" tick when some trials lack the knob.
func (ka knobAxis) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	switch {
	case ka.discrete || len(ka.values) <= 5:
		for _, x := range ka.values {
			ticks = append(ticks, plot.Tick{Value: x, Label: ka.v.knobText(ka.name, x)})
		}
	case ka.log:
		top := hi
		if ka.hasOff {
			top = ka.off / 2 // leave the "off" tick alone
		}
		ticks = logTicks{label: formatExp}.Ticks(lo, top)
	default:
		for _, t := range (plot.DefaultTicks{}).Ticks(lo, hi) {
			if ka.hasOff && t.Value > ka.values[len(ka.values)-1] {
				continue
			}
			ticks = append(ticks, t)
		}
	}
	if ka.hasOff {
		ticks = append(ticks, plot.Tick{Value: ka.off, Label: "off"})
	}
	return ticks
}

// knobsFigure is one row per knob: the knob's value against latency (left) and against
// accuracy (right), every complete trial light and the front dark.
func knobsFigure(v *view) figure {
	rows := len(v.knobs)
	return figure{
		name:    "knobs",
		caption: fmt.Sprintf("Each knob against latency and accuracy: %d knobs, front trials in dark.", rows),
		w:       9 * vg.Inch, h: vg.Length(0.35+1.95*float64(rows)) * vg.Inch,
		draw: func(dc draw.Canvas) {
			plots := knobPlots(v)
			tiles := draw.Tiles{Rows: rows, Cols: 2, PadX: 18, PadY: 8, PadTop: 2, PadBottom: 2, PadLeft: 2, PadRight: 8}
			cs := plot.Align(plots, tiles, dc)
			for i := range plots {
				for j := range plots[i] {
					plots[i][j].Draw(cs[i][j])
				}
			}
		},
	}
}

func knobPlots(v *view) [][]*plot.Plot {
	latLo, latHi := math.Inf(1), math.Inf(-1)
	accLo, accHi := math.Inf(1), math.Inf(-1)
	for _, t := range v.complete {
		latLo, latHi = math.Min(latLo, t.LatencyMs), math.Max(latHi, t.LatencyMs)
		accLo, accHi = math.Min(accLo, t.Accuracy), math.Max(accHi, t.Accuracy)
	}
	if v.s.FloatAccuracy > 0 {
		accLo, accHi = math.Min(accLo, v.s.FloatAccuracy), math.Max(accHi, v.s.FloatAccuracy)
	}
	accPad := math.Max(0.02, 0.06*(accHi-accLo))

	out := make([][]*plot.Plot, len(v.knobs))
	for i, name := range v.knobs {
		ka := newKnobAxis(v, name)
		var latTitle, accTitle string
		if i == 0 {
			latTitle, accTitle = "latency by knob", "accuracy by knob"
		}
		lat := newPlot(latTitle, name, "latency")
		lat.Y.Scale = plot.LogScale{}
		lat.Y.Tick.Marker = logTicks{label: formatMs}
		lat.Y.Min, lat.Y.Max = latLo/1.35, latHi*1.35
		acc := newPlot(accTitle, name, "accuracy")
		acc.Y.Min, acc.Y.Max = math.Max(0, accLo-accPad), math.Min(1, accHi+accPad)
		acc.Y.Tick.Marker = stepTicks{max: 5}
		if v.s.FloatAccuracy > 0 {
			acc.Add(&plotter.Line{
				XYs:       plotter.XYs{{X: ka.lo, Y: v.s.FloatAccuracy}, {X: ka.hi, Y: v.s.FloatAccuracy}},
				LineStyle: draw.LineStyle{Color: colFloat, Width: 1, Dashes: []vg.Length{4, 3}},
			})
		}
		for _, p := range []*plot.Plot{lat, acc} {
			p.X.Min, p.X.Max = ka.lo, ka.hi
			p.X.Tick.Marker = ka
			if ka.log {
				p.X.Scale = plot.LogScale{}
			}
			p.Title.TextStyle.Font.Size = 11
		}
		var latAll, accAll, latFront, accFront plotter.XYs
		for _, t := range v.complete {
			x := ka.x(t)
			latAll = append(latAll, plotter.XY{X: x, Y: t.LatencyMs})
			accAll = append(accAll, plotter.XY{X: x, Y: t.Accuracy})
			if t.OnFront {
				latFront = append(latFront, plotter.XY{X: x, Y: t.LatencyMs})
				accFront = append(accFront, plotter.XY{X: x, Y: t.Accuracy})
			}
		}
		light := draw.GlyphStyle{Color: colTrial, Radius: 2.4, Shape: draw.CircleGlyph{}}
		dark := draw.GlyphStyle{Color: colFront, Radius: 2.8, Shape: draw.CircleGlyph{}}
		lat.Add(&plotter.Scatter{XYs: latAll, GlyphStyle: light}, &plotter.Scatter{XYs: latFront, GlyphStyle: dark})
		acc.Add(&plotter.Scatter{XYs: accAll, GlyphStyle: light}, &plotter.Scatter{XYs: accFront, GlyphStyle: dark})
		out[i] = []*plot.Plot{lat, acc}
	}
	return out
}
