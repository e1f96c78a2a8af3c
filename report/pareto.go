package report

import (
	"fmt"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// paretoFigure is accuracy against latency: every complete trial, the front as a step
// line, the float accuracy, the picks and the fronts of compared studies.
func paretoFigure(v *view) figure {
	caption := fmt.Sprintf("Accuracy against latency of the %d complete trials; the %d on the Pareto front are joined.",
		len(v.complete), len(v.front))
	var drawn []string
	for _, f := range v.compare {
		if len(f.points) > 0 {
			drawn = append(drawn, fmt.Sprintf("%s (%d)", f.name, len(f.points)))
		}
	}
	if len(drawn) > 0 {
		caption += " Dashed step lines are the fronts of " + strings.Join(drawn, ", ") + "."
	}
	const w, legendH = 9 * vg.Inch, vg.Length(22)
	// The legend wraps into more rows when it is wider than the plot; the figure grows
	// by their height so that the plot keeps its size.
	_, legend := paretoPlot(v)
	rows := len(legendRows(legend, w-2*margin))
	return figure{
		name:    "pareto",
		caption: caption,
		w:       w, h: 5.6*vg.Inch + vg.Length(rows-1)*legendH,
		draw: func(dc draw.Canvas) {
			p, legend := paretoPlot(v)
			rows := legendRows(legend, dc.Max.X-dc.Min.X)
			below := dc
			dc.Min.Y += vg.Length(len(rows)) * legendH
			p.Draw(dc)
			for i, row := range rows { // the first row right under the plot
				c := below
				c.Min.Y = below.Min.Y + vg.Length(len(rows)-1-i)*legendH
				c.Max.Y = c.Min.Y + legendH
				drawLegendRow(c, row)
			}
		},
	}
}

// paretoPlot returns the plot and its legend, which goes in a row under the plot so that
// it hides no data.
func paretoPlot(v *view) (*plot.Plot, []legendEntry) {
	p := newPlot(v.s.Name+": accuracy against latency", "latency per inference (log scale)", "accuracy")
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = logTicks{label: formatMs}
	p.Y.Tick.Marker = stepTicks{max: 9}
	var legend []legendEntry

	all := make(plotter.XYs, len(v.complete))
	latLo, latHi := math.Inf(1), math.Inf(-1)
	accLo, accHi := math.Inf(1), math.Inf(-1)
	var verified []*Trial
	for i, t := range v.complete {
		all[i] = plotter.XY{X: t.LatencyMs, Y: t.Accuracy}
		latLo, latHi = math.Min(latLo, t.LatencyMs), math.Max(latHi, t.LatencyMs)
		accLo, accHi = math.Min(accLo, t.Accuracy), math.Max(accHi, t.Accuracy)
		if vf := t.Verified; vf != nil {
			verified = append(verified, t)
			latLo, latHi = math.Min(latLo, vf.LatencyMs), math.Max(latHi, vf.LatencyMs)
			accLo, accHi = math.Min(accLo, vf.Accuracy), math.Max(accHi, vf.Accuracy)
		}
	}
	if v.s.FloatAccuracy > 0 {
		accLo, accHi = math.Min(accLo, v.s.FloatAccuracy), math.Max(accHi, v.s.FloatAccuracy)
	}
	for _, f := range v.compare {
		for _, pt := range f.points {
			latLo, latHi = math.Min(latLo, pt.LatencyMs), math.Max(latHi, pt.LatencyMs)
			accLo, accHi = math.Min(accLo, pt.Accuracy), math.Max(accHi, pt.Accuracy)
		}
	}
	p.X.Min, p.X.Max = latLo/1.35, latHi*1.35
	pad := math.Max(0.02, 0.06*(accHi-accLo))
	p.Y.Min, p.Y.Max = math.Max(0, accLo-pad), math.Min(1, accHi+pad)
	if p.Y.Max-p.Y.Min < 0.01 {
		p.Y.Min, p.Y.Max = math.Max(0, accLo-0.01), math.Min(1, accHi+0.01)
	}

	// Compared fronts go under this study's marks; their legend entries come last.
	var compared []legendEntry
	for i, f := range v.compare {
		if len(f.points) == 0 {
			continue
		}
		xys := make(plotter.XYs, len(f.points))
		for j, pt := range f.points {
			xys[j] = plotter.XY{X: pt.LatencyMs, Y: pt.Accuracy}
		}
		line := &plotter.Line{XYs: xys, LineStyle: compareLine(i), StepStyle: plotter.PostStep}
		if !v.minLat {
			line.StepStyle = plotter.PreStep
		}
		marks := &plotter.Scatter{XYs: xys, GlyphStyle: draw.GlyphStyle{
			Color: line.LineStyle.Color, Radius: frontRadius, Shape: compareGlyphs[i%len(compareGlyphs)]}}
		p.Add(line, marks)
		compared = append(compared, legendEntry{fmt.Sprintf("front of %s (%d)", f.name, len(f.points)), []plot.Thumbnailer{line, marks}})
	}

	trials := &plotter.Scatter{XYs: all, GlyphStyle: draw.GlyphStyle{Color: colTrial, Radius: trialRadius, Shape: draw.CircleGlyph{}}}
	p.Add(trials)
	legend = append(legend, legendEntry{fmt.Sprintf("complete trial (%d)", len(v.complete)), []plot.Thumbnailer{trials}})

	if v.s.FloatAccuracy > 0 {
		ref := &plotter.Line{
			XYs:       plotter.XYs{{X: p.X.Min, Y: v.s.FloatAccuracy}, {X: p.X.Max, Y: v.s.FloatAccuracy}},
			LineStyle: draw.LineStyle{Color: colFloat, Width: 1.2, Dashes: []vg.Length{5, 3}},
		}
		p.Add(ref)
		legend = append(legend, legendEntry{"float model (" + formatAcc(v.s.FloatAccuracy) + ")", []plot.Thumbnailer{ref}})
	}

	front := make(plotter.XYs, len(v.front))
	for i, t := range v.front {
		front[i] = plotter.XY{X: t.LatencyMs, Y: t.Accuracy}
	}
	step := &plotter.Line{XYs: front, LineStyle: draw.LineStyle{Color: colFront, Width: 1.4}, StepStyle: plotter.PostStep}
	if !v.minLat {
		step.StepStyle = plotter.PreStep
	}
	frontPts := &plotter.Scatter{XYs: front, GlyphStyle: draw.GlyphStyle{Color: colFront, Radius: frontRadius, Shape: draw.CircleGlyph{}}}
	p.Add(step, frontPts)
	legend = append(legend, legendEntry{fmt.Sprintf("Pareto front (%d)", len(v.front)), []plot.Thumbnailer{step, frontPts}})

	if len(verified) > 0 {
		// Each verified trial: its measured point (a diamond) joined to its modelled one.
		pts := make(plotter.XYs, len(verified))
		for i, t := range verified {
			pts[i] = plotter.XY{X: t.Verified.LatencyMs, Y: t.Verified.Accuracy}
			link := &plotter.Line{XYs: plotter.XYs{{X: t.LatencyMs, Y: t.Accuracy}, pts[i]},
				LineStyle: draw.LineStyle{Color: colVerified, Width: 1, Dashes: []vg.Length{2, 2}}}
			p.Add(link)
		}
		marks := &plotter.Scatter{XYs: pts, GlyphStyle: draw.GlyphStyle{Color: colVerified, Radius: frontRadius + 1, Shape: draw.PyramidGlyph{}}}
		p.Add(marks)
		legend = append(legend, legendEntry{fmt.Sprintf("verified encrypted (%d, measured)", len(verified)), []plot.Thumbnailer{marks}})
	}

	if len(v.picks) > 0 {
		pm := pickMarks{v: v}
		p.Add(pm)
		legend = append(legend, legendEntry{"picked trial", []plot.Thumbnailer{pm}})
	}
	return p, append(legend, compared...)
}

// pickMarks rings each picked trial and labels it with its picks, placing each label
// where it overlaps no other label and, if it can, no front point.
type pickMarks struct{ v *view }

var pickRing = draw.LineStyle{Color: colPick, Width: 1.8}

// Plot implements plot.Plotter.
func (pm pickMarks) Plot(c draw.Canvas, plt *plot.Plot) {
	trX, trY := plt.Transforms(&c)
	sty := textStyle(8.5, false, colText)
	sty.XAlign, sty.YAlign = draw.XLeft, draw.YBottom

	// Labels avoid each other and, where they can, the front's markers.
	var points []vg.Rectangle
	for _, t := range pm.v.front {
		pt := vg.Point{X: trX(t.LatencyMs), Y: trY(t.Accuracy)}
		points = append(points, square(pt, frontRadius+1))
	}
	for _, f := range pm.v.compare {
		for _, fp := range f.points {
			pt := vg.Point{X: trX(fp.LatencyMs), Y: trY(fp.Accuracy)}
			points = append(points, square(pt, frontRadius+1))
		}
	}
	var placed []vg.Rectangle

	for _, g := range pm.v.picks {
		t := g.trial
		pt := vg.Point{X: trX(t.LatencyMs), Y: trY(t.Accuracy)}
		ring := make(vg.Path, 0, 3)
		ring.Move(vg.Point{X: pt.X + pickRadius, Y: pt.Y})
		ring.Arc(pt, pickRadius, 0, 2*math.Pi)
		ring.Close()
		c.SetLineStyle(pickRing)
		c.Stroke(ring)

		txt := strings.Join(g.labels, "; ") + fmt.Sprintf("\ntrial #%d: accuracy %s, %s", t.Number, formatAcc(t.Accuracy), formatMs(t.LatencyMs))
		text := sty.Rectangle(txt)
		const margin = 3
		w, h := text.Size().X+2*margin, text.Size().Y+2*margin
		box, ok := placeLabel(c.Rectangle, pt, w, h, placed, points)
		if !ok {
			box, _ = placeLabel(c.Rectangle, pt, w, h, placed, nil)
		}
		placed = append(placed, box)

		// Leader from the ring to the nearest point of the box.
		near := vg.Point{X: clamp(pt.X, box.Min.X, box.Max.X), Y: clamp(pt.Y, box.Min.Y, box.Max.Y)}
		if d := dist(pt, near); d > pickRadius+1 {
			from := vg.Point{X: pt.X + (near.X-pt.X)*pickRadius/d, Y: pt.Y + (near.Y-pt.Y)*pickRadius/d}
			c.StrokeLine2(draw.LineStyle{Color: colPick, Width: 0.8}, from.X, from.Y, near.X, near.Y)
		}
		c.FillPolygon(colLabelBox, []vg.Point{box.Min, {X: box.Max.X, Y: box.Min.Y}, box.Max, {X: box.Min.X, Y: box.Max.Y}})
		c.StrokeLines(draw.LineStyle{Color: colPick, Width: 0.6},
			[]vg.Point{box.Min, {X: box.Max.X, Y: box.Min.Y}, box.Max, {X: box.Min.X, Y: box.Max.Y}, box.Min})
		c.FillText(sty, vg.Point{X: box.Min.X + margin - text.Min.X, Y: box.Min.Y + margin - text.Min.Y}, txt)
	}
}

// Thumbnail implements plot.Thumbnailer: a ring in the pick colour.
func (pickMarks) Thumbnail(c *draw.Canvas) {
	ctr := c.Center()
	r := vg.Length(5)
	ring := make(vg.Path, 0, 3)
	ring.Move(vg.Point{X: ctr.X + r, Y: ctr.Y})
	ring.Arc(ctr, r, 0, 2*math.Pi)
	ring.Close()
	c.SetLineStyle(pickRing)
	c.Stroke(ring)
}

// placeLabel finds a w×h box near pt inside area that overlaps none of the avoid
// rectangles, trying the four diagonal corners at growing distances.
func placeLabel(area vg.Rectangle, pt vg.Point, w, h vg.Length, avoid ...[]vg.Rectangle) (vg.Rectangle, bool) {
	var first vg.Rectangle
	haveFirst := false
	for _, d := range []vg.Length{pickRadius + 4, 2.5 * pickRadius, 4.5 * pickRadius, 7 * pickRadius, 10 * pickRadius} {
		for _, corner := range [4][2]int{{1, 1}, {1, -1}, {-1, 1}, {-1, -1}} {
			minX := pt.X + d
			if corner[0] < 0 {
				minX = pt.X - d - w
			}
			minY := pt.Y + d/2
			if corner[1] < 0 {
				minY = pt.Y - d/2 - h
			}
			box := vg.Rectangle{Min: vg.Point{X: minX, Y: minY}, Max: vg.Point{X: minX + w, Y: minY + h}}
			if !inside(box, area) {
				continue
			}
			if !haveFirst {
				first, haveFirst = box, true
			}
			if !overlapsAny(box, avoid...) {
				return box, true
			}
		}
	}
	if !haveFirst { // nothing fits: keep it inside the area as well as possible
		minX := clamp(pt.X+pickRadius+4, area.Min.X, area.Max.X-w)
		minY := clamp(pt.Y-h/2, area.Min.Y, area.Max.Y-h)
		first = vg.Rectangle{Min: vg.Point{X: minX, Y: minY}, Max: vg.Point{X: minX + w, Y: minY + h}}
	}
	return first, false
}

func inside(r, area vg.Rectangle) bool {
	return r.Min.X >= area.Min.X && r.Min.Y >= area.Min.Y && r.Max.X <= area.Max.X && r.Max.Y <= area.Max.Y
}

func overlapsAny(r vg.Rectangle, sets ...[]vg.Rectangle) bool {
	for _, set := range sets {
		for _, o := range set {
			if r.Min.X < o.Max.X && o.Min.X < r.Max.X && r.Min.Y < o.Max.Y && o.Min.Y < r.Max.Y {
				return true
			}
		}
	}
	return false
}

func square(pt vg.Point, r vg.Length) vg.Rectangle {
	return vg.Rectangle{Min: vg.Point{X: pt.X - r, Y: pt.Y - r}, Max: vg.Point{X: pt.X + r, Y: pt.Y + r}}
}

func clamp(x, lo, hi vg.Length) vg.Length {
	if hi < lo {
		return lo
	}
	return max(lo, min(hi, x))
}

func dist(a, b vg.Point) vg.Length {
	return vg.Length(math.Hypot(float64(a.X-b.X), float64(a.Y-b.Y)))
}

// legendEntry is one entry of a legend row.
type legendEntry struct {
	text   string
	thumbs []plot.Thumbnailer
}

// Sizes of a legend row's entries.
const (
	legendThumbW = vg.Length(20) // sample of the mark
	legendGap    = vg.Length(5)  // between the sample and its text
	legendSep    = vg.Length(22) // between entries
)

// legendStyle is the text style of legend entries.
func legendStyle() draw.TextStyle {
	sty := textStyle(9.5, false, colText)
	sty.XAlign, sty.YAlign = draw.XLeft, draw.YCenter
	return sty
}

// legendRows splits the entries, in order, into rows no wider than width; a row holds
// at least one entry.
func legendRows(entries []legendEntry, width vg.Length) [][]legendEntry {
	sty := legendStyle()
	var rows [][]legendEntry
	var row []legendEntry
	var used vg.Length
	for _, e := range entries {
		w := legendThumbW + legendGap + sty.Width(e.text)
		if len(row) > 0 && used+legendSep+w > width {
			rows = append(rows, row)
			row, used = nil, 0
		}
		if len(row) > 0 {
			used += legendSep
		}
		row = append(row, e)
		used += w
	}
	if len(row) > 0 {
		rows = append(rows, row)
	}
	return rows
}

// drawLegendRow draws the entries side by side, centred in c.
func drawLegendRow(c draw.Canvas, entries []legendEntry) {
	sty := legendStyle()
	total := -legendSep
	for _, e := range entries {
		total += legendThumbW + legendGap + sty.Width(e.text) + legendSep
	}
	x := (c.Min.X+c.Max.X)/2 - total/2
	y := (c.Min.Y + c.Max.Y) / 2
	for _, e := range entries {
		icon := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: x, Y: y - 6}, Max: vg.Point{X: x + legendThumbW, Y: y + 6}}}
		for _, t := range e.thumbs {
			t.Thumbnail(&icon)
		}
		c.FillText(sty, vg.Point{X: x + legendThumbW + legendGap, Y: y}, e.text)
		x += legendThumbW + legendGap + sty.Width(e.text) + legendSep
	}
}
