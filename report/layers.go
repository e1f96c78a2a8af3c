package report

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// splitKnown reports whether the trial's layers say how much of their time is KS+PBS.
func splitKnown(layers []Layer) bool {
	for _, l := range layers {
		if l.BootstrapMs > 0 {
			return true
		}
	}
	return false
}

// layersFigure is the chosen trial's time per layer, one horizontal bar each, first
// layer on top, split into KS+PBS and levelled time when the split is known.
func layersFigure(v *view) figure {
	t := v.chosen
	n := len(t.Layers)
	return figure{
		name:    "layers",
		caption: fmt.Sprintf("Where trial #%d spends its %s, layer by layer.", t.Number, formatMs(t.LatencyMs)),
		w:       9 * vg.Inch, h: vg.Length(math.Max(2.6, 1.35+0.5*float64(n))) * vg.Inch,
		draw: func(dc draw.Canvas) { layersPlot(v).Draw(dc) },
	}
}

func layersPlot(v *view) *plot.Plot {
	t := v.chosen
	n := len(t.Layers)
	p := newPlot(fmt.Sprintf("%s: where trial #%d spends its %s", v.s.Name, t.Number, formatMs(t.LatencyMs)),
		"time per inference", "")
	names := make([]string, n)
	boot, lev, whole := make(plotter.Values, n), make(plotter.Values, n), make(plotter.Values, n)
	labels := &plotter.Labels{Offset: vg.Point{X: 5}}
	sty := text.Style{
		Color:   colText,
		Font:    textStyle(8.5, false, colText).Font,
		YAlign:  draw.YCenter,
		Handler: plot.DefaultTextHandler,
	}
	hi := 0.0
	for i, l := range t.Layers {
		j := n - 1 - i // first layer on top
		names[j] = l.Name
		boot[j], lev[j], whole[j] = l.BootstrapMs, l.LayerMs-l.BootstrapMs, l.LayerMs
		hi = math.Max(hi, l.LayerMs)
		label := formatMs(l.LayerMs)
		if l.TLUCount > 0 {
			label += fmt.Sprintf(" · %d TLU × %d bit", l.TLUCount, l.TLUBits)
			if l.Crypto != "" {
				label += " · " + l.Crypto
			}
		} else {
			label += " · levelled only"
		}
		labels.XYs = append(labels.XYs, plotter.XY{X: l.LayerMs, Y: float64(j)})
		labels.Labels = append(labels.Labels, label)
		labels.TextStyle = append(labels.TextStyle, sty)
	}
	p.NominalY(names...)
	p.Y.Tick.Label.Font.Size = 9.5
	p.X.Min, p.X.Max = 0, math.Max(hi*1.02, 1e-3)
	p.X.Tick.Marker = stepTicks{max: 8, label: formatMs}
	p.Y.Min, p.Y.Max = -0.6, float64(n)-0.4
	p.Legend.Top, p.Legend.Left = false, true
	p.Legend.XOffs, p.Legend.YOffs = 4, 2
	p.Legend.TextStyle.Font.Size = 9.5

	width := vg.Length(math.Min(22, 200/float64(n)))
	noLine := draw.LineStyle{}
	if splitKnown(t.Layers) {
		p.Y.Min = -1.5 // room for the legend below the last layer
		b := &plotter.BarChart{Values: boot, Width: width, Color: colBootstrap, LineStyle: noLine, Horizontal: true}
		l := &plotter.BarChart{Values: lev, Width: width, Color: colLevelled, LineStyle: noLine, Horizontal: true}
		l.StackOn(b)
		p.Add(b, l)
		p.Legend.Add("KS + PBS", b)
		p.Legend.Add("levelled (dot products)", l)
	} else {
		b := &plotter.BarChart{Values: whole, Width: width, Color: colWhole, LineStyle: noLine, Horizontal: true}
		p.Add(b)
	}
	p.Add(labels)
	return p
}
