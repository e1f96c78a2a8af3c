package report

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// historyFigure is the study's progress: hypervolume (top) and best accuracy (bottom)
// against trial number, on one trial axis.
func historyFigure(v *view) figure {
	return figure{
		name:    "history",
		caption: fmt.Sprintf("Hypervolume of the front and best accuracy after each of %d trials.", len(v.historyPts)),
		w:       9 * vg.Inch, h: 5.6 * vg.Inch,
		draw: func(dc draw.Canvas) {
			top, bottom := historyPlots(v)
			tiles := draw.Tiles{Rows: 2, Cols: 1, PadY: 10, PadTop: 2, PadBottom: 2, PadLeft: 2, PadRight: 8}
			cs := plot.Align([][]*plot.Plot{{top}, {bottom}}, tiles, dc)
			top.Draw(cs[0][0])
			bottom.Draw(cs[1][0])
		},
	}
}

func historyPlots(v *view) (top, bottom *plot.Plot) {
	h := v.historyPts
	hv := make(plotter.XYs, len(h))
	best := make(plotter.XYs, len(h))
	hvHi := math.Inf(-1)
	accLo, accHi := math.Inf(1), math.Inf(-1)
	for i, pt := range h {
		x := float64(pt.Trial)
		hv[i] = plotter.XY{X: x, Y: pt.Hypervolume}
		best[i] = plotter.XY{X: x, Y: pt.BestAccuracy}
		hvHi = math.Max(hvHi, pt.Hypervolume)
		accLo, accHi = math.Min(accLo, pt.BestAccuracy), math.Max(accHi, pt.BestAccuracy)
	}
	if v.s.FloatAccuracy > 0 {
		accLo, accHi = math.Min(accLo, v.s.FloatAccuracy), math.Max(accHi, v.s.FloatAccuracy)
	}
	xLo, xHi := hv[0].X, hv[len(hv)-1].X
	if xHi == xLo {
		xLo, xHi = xLo-1, xHi+1
	}

	top = newPlot(v.s.Name+": progress", "", "hypervolume")
	top.X.Min, top.X.Max = xLo, xHi
	top.Y.Min, top.Y.Max = 0, hvHi*1.08
	if hvHi <= 0 {
		top.Y.Min, top.Y.Max = math.Min(0, hvHi*1.08), 1
	}
	top.X.Tick.Marker = stepTicks{max: 12, integer: true}
	top.Y.Tick.Marker = stepTicks{max: 5}
	hvLine := &plotter.Line{XYs: hv, StepStyle: plotter.PostStep, LineStyle: draw.LineStyle{Color: colFront, Width: 1.6}}
	top.Add(hvLine)
	if len(h) <= 300 {
		top.Add(&plotter.Scatter{XYs: hv, GlyphStyle: draw.GlyphStyle{Color: colFront, Radius: 1.6, Shape: draw.CircleGlyph{}}})
	}

	bottom = newPlot("", "trial number", "best accuracy")
	bottom.X.Min, bottom.X.Max = xLo, xHi
	pad := math.Max(0.01, 0.06*(accHi-accLo))
	bottom.Y.Min, bottom.Y.Max = math.Max(0, accLo-pad), math.Min(1, accHi+pad)
	bottom.X.Tick.Marker = stepTicks{max: 12, integer: true}
	bottom.Y.Tick.Marker = stepTicks{max: 5}
	bottom.Legend.Top, bottom.Legend.Left = false, false
	bottom.Legend.TextStyle.Font.Size = 9.5
	bottom.Legend.YOffs, bottom.Legend.XOffs = 4, -4
	bestLine := &plotter.Line{XYs: best, StepStyle: plotter.PostStep, LineStyle: draw.LineStyle{Color: colBest, Width: 1.6}}
	bottom.Add(bestLine)
	if len(h) <= 300 {
		bottom.Add(&plotter.Scatter{XYs: best, GlyphStyle: draw.GlyphStyle{Color: colBest, Radius: 1.6, Shape: draw.CircleGlyph{}}})
	}
	bottom.Legend.Add("best accuracy so far", bestLine)
	if v.s.FloatAccuracy > 0 {
		ref := &plotter.Line{
			XYs:       plotter.XYs{{X: xLo, Y: v.s.FloatAccuracy}, {X: xHi, Y: v.s.FloatAccuracy}},
			LineStyle: draw.LineStyle{Color: colFloat, Width: 1.2, Dashes: []vg.Length{5, 3}},
		}
		bottom.Add(ref)
		bottom.Legend.Add("float model ("+formatAcc(v.s.FloatAccuracy)+")", ref)
	}
	return top, bottom
}
