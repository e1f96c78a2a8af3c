package report

import (
	"image/color"
	"math"
	"strconv"
	"strings"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Colours of the plots. Each is opaque, so SVG fills carry them exactly.
var (
	colTrial     = color.NRGBA{R: 0xA9, G: 0xB8, B: 0xCC, A: 0xFF} // every complete trial
	colFront     = color.NRGBA{R: 0x1F, G: 0x5F, B: 0xA8, A: 0xFF} // the Pareto front
	colFloat     = color.NRGBA{R: 0xC0, G: 0x39, B: 0x2B, A: 0xFF} // float accuracy
	colPick      = color.NRGBA{R: 0xE0, G: 0x7B, B: 0x00, A: 0xFF} // picked trials
	colVerified  = color.NRGBA{R: 0x6A, G: 0x3D, B: 0x9A, A: 0xFF} // trials run encrypted
	colGrid      = color.NRGBA{R: 0xE4, G: 0xE8, B: 0xEE, A: 0xFF}
	colBest      = color.NRGBA{R: 0x2E, G: 0x8B, B: 0x57, A: 0xFF} // best accuracy so far
	colBootstrap = color.NRGBA{R: 0x1F, G: 0x5F, B: 0xA8, A: 0xFF} // KS+PBS time
	colLevelled  = color.NRGBA{R: 0xF2, G: 0xA6, B: 0x5A, A: 0xFF} // levelled time
	colWhole     = color.NRGBA{R: 0x7F, G: 0x8F, B: 0xA6, A: 0xFF} // layer time, split unknown
	colLabelBox  = color.NRGBA{R: 0xFF, G: 0xFF, B: 0xFF, A: 0xE0}
	colText      = color.NRGBA{R: 0x22, G: 0x22, B: 0x22, A: 0xFF}
)

// compareStyles are the colours and dash patterns of compared studies' fronts, used in
// turn: front i takes colour i mod 5 and dashes i mod 4, so the first 20 differ. None
// of the colours is used by another mark of the Pareto plot.
var compareStyles = struct {
	colours []color.NRGBA
	dashes  [][]vg.Length
}{
	colours: []color.NRGBA{
		{R: 0x1B, G: 0x9E, B: 0x77, A: 0xFF}, // teal
		{R: 0xD8, G: 0x1B, B: 0x60, A: 0xFF}, // magenta
		{R: 0x8C, G: 0x56, B: 0x4B, A: 0xFF}, // brown
		{R: 0x00, G: 0x8B, B: 0xB8, A: 0xFF}, // cyan
		{R: 0x7A, G: 0x7A, B: 0x00, A: 0xFF}, // olive
	},
	dashes: [][]vg.Length{{6, 3}, {2, 2}, {8, 3, 2, 3}, {4, 2, 1, 2}},
}

// compareLine returns the line style of compared front i.
func compareLine(i int) draw.LineStyle {
	return draw.LineStyle{
		Color:  compareStyles.colours[i%len(compareStyles.colours)],
		Width:  1.4,
		Dashes: compareStyles.dashes[i%len(compareStyles.dashes)],
	}
}

// compareGlyphs are the outlined marker shapes of compared fronts, used in turn, so that
// their markers never read as the reported study's filled ones.
var compareGlyphs = []draw.GlyphDrawer{draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.RingGlyph{}, draw.CrossGlyph{}}

// Marker radii.
const (
	trialRadius = vg.Length(3)
	frontRadius = vg.Length(3.6)
	pickRadius  = vg.Length(7)
)

// Fonts: Liberation Sans (metrics of Arial), as gonum/plot measures text with it. The SVG
// output names fallbacks for browsers without it (see fontFallback).
var (
	sansFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
	boldFont = font.Font{Typeface: "Liberation", Variant: "Sans", Weight: xfont.WeightBold}
)

// newPlot returns a plot with the report's fonts, sizes and a light grid.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(boldFont, 12)
	p.Title.Padding = 6
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sansFont, 10.5)
		a.Tick.Label.Font = font.From(sansFont, 9)
		a.Tick.Length = 5
		a.Padding = 4
	}
	p.X.Label.Padding = 2
	p.Legend.TextStyle.Font = font.From(sansFont, 9)
	p.Legend.ThumbnailWidth = 18
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = colGrid, colGrid
	g.Vertical.Width, g.Horizontal.Width = 0.6, 0.6
	p.Add(g)
	return p
}

// textStyle returns a plain text style with the report's font.
func textStyle(size vg.Length, bold bool, c color.Color) draw.TextStyle {
	f := sansFont
	if bold {
		f = boldFont
	}
	return draw.TextStyle{
		Color:   c,
		Font:    font.From(f, size),
		Handler: plot.DefaultTextHandler,
	}
}

// logTicks marks a log axis: minor ticks at every m·10^k and labels at 1, 2 and 5 × 10^k
// over spans up to 3.5 decades; at powers of ten (every other one or fewer past 7
// decades, with minor ticks only at the others) beyond; all formatted by label.
type logTicks struct {
	label func(float64) string
}

// Ticks implements plot.Ticker.
func (lt logTicks) Ticks(lo, hi float64) []plot.Tick {
	if lo <= 0 || hi <= lo {
		return nil
	}
	decades := math.Log10(hi / lo)
	every := max(1, int(math.Ceil(decades/7))) // label every n-th decade
	labelled := func(m, k int) bool { return m == 1 || m == 2 || m == 5 }
	minors := []int{1, 2, 3, 4, 5, 6, 7, 8, 9}
	if decades > 3.5 {
		labelled = func(m, k int) bool { return m == 1 && k%every == 0 }
	}
	if decades > 7 {
		minors = []int{1}
	}
	var ticks []plot.Tick
	nLabels := 0
	for k := int(math.Floor(math.Log10(lo))); k <= int(math.Ceil(math.Log10(hi))); k++ {
		for _, m := range minors {
			v := float64(m) * math.Pow10(k)
			if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
				continue
			}
			t := plot.Tick{Value: v}
			if labelled(m, k) {
				t.Label = lt.label(v)
				nLabels++
			}
			ticks = append(ticks, t)
		}
	}
	if nLabels < 2 { // a narrow range: label every tick
		for i := range ticks {
			ticks[i].Label = lt.label(ticks[i].Value)
		}
	}
	return ticks
}

// stepTicks marks a linear axis every "nice" step (1, 2 or 5 × 10^k) with at most max
// labels, a minor tick halfway between labels, and labels formatted by label (or with as
// many decimals as the step needs). Integer axes never step below 1.
type stepTicks struct {
	max     int
	integer bool
	label   func(float64) string
}

// Ticks implements plot.Ticker.
func (st stepTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || st.max < 1 {
		return nil
	}
	raw := (hi - lo) / float64(st.max)
	mag := math.Pow10(int(math.Floor(math.Log10(raw))))
	step := 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	if st.integer {
		step = math.Max(1, math.Round(step))
	}
	decimals := max(0, -int(math.Floor(math.Log10(step)+1e-9)))
	label := st.label
	if label == nil {
		label = func(v float64) string { return strconv.FormatFloat(v, 'f', decimals, 64) }
	}
	var ticks []plot.Tick
	first := math.Ceil(lo/step-1e-9) * step
	for i := 0; ; i++ {
		v := first + float64(i)*step
		if v > hi+step*1e-9 {
			break
		}
		v = math.Round(v/step) * step // no drift from the sum
		ticks = append(ticks, plot.Tick{Value: v, Label: label(v)})
		if half := v + step/2; half <= hi && (!st.integer || step >= 2 && math.Mod(step, 2) == 0) {
			ticks = append(ticks, plot.Tick{Value: half})
		}
	}
	if minor := first - step/2; minor >= lo && (!st.integer || step >= 2 && math.Mod(step, 2) == 0) {
		ticks = append(ticks, plot.Tick{Value: minor})
	}
	return ticks
}

// formatMs formats a duration in milliseconds for a tick or a label: "50 ms", "1.2 s".
func formatMs(ms float64) string {
	switch {
	case ms >= 1000:
		return trimFloat(ms/1000, 3) + " s"
	case ms >= 1:
		return trimFloat(ms, 3) + " ms"
	default:
		return trimFloat(ms, 2) + " ms"
	}
}

// formatExp formats a small positive value such as a p_error: "1e-5", "2.5e-3".
func formatExp(v float64) string {
	mant, exp, _ := strings.Cut(strconv.FormatFloat(v, 'e', 2, 64), "e")
	if strings.Contains(mant, ".") {
		mant = strings.TrimRight(strings.TrimRight(mant, "0"), ".")
	}
	sign := ""
	if exp[0] == '-' {
		sign = "-"
	}
	exp = strings.TrimLeft(exp[1:], "0")
	if exp == "" {
		exp = "0"
	}
	return mant + "e" + sign + exp
}

// trimFloat formats v with at most sig significant digits and no trailing zeros.
func trimFloat(v float64, sig int) string {
	if v == 0 {
		return "0"
	}
	digits := sig - 1 - int(math.Floor(math.Log10(math.Abs(v))))
	if digits < 0 {
		digits = 0
	}
	s := strconv.FormatFloat(v, 'f', digits, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// formatKnob formats a knob's value: integers plainly, small values in exponent form,
// the rest with three significant digits.
func formatKnob(v float64) string {
	switch {
	case v == math.Trunc(v) && math.Abs(v) < 1e6:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) < 1e-2:
		return formatExp(v)
	default:
		return trimFloat(v, 3)
	}
}

// formatAcc formats an accuracy: 0.9633.
func formatAcc(a float64) string { return strconv.FormatFloat(a, 'f', 4, 64) }
