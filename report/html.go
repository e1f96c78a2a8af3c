package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"slices"
	"strconv"
	"strings"
)

//go:embed index.html.tmpl
var indexSource string

// indexTmpl renders index.html. The output is well-formed XML (XHTML syntax in an HTML5
// document), so that tests can parse it with encoding/xml.
var indexTmpl = template.Must(template.New("index.html").Parse(indexSource))

// page is what index.html shows.
type page struct {
	Name      string
	Summary   string
	Compare   []string // one line per compared study
	Complete  bool
	Picks     []pickRow
	Figures   []pageFigure
	KnobNames [][]string // knob names split at underscores, to let headers wrap there
	Front     []frontRow
	Chosen    *chosenInfo
	Pruned    []prunedRow
}

// prunedRow is a pruned trial: its knobs and why its training stopped ("–" where
// unknown).
type prunedRow struct {
	Trial                                               int
	Rule, Epoch, ValAccuracy, Threshold, Comparable, As string
	Knobs                                               string
}

type pickRow struct {
	Label, Accuracy, VsFloat, Latency string
	Trial, PBS, MaxBits               int
}

type pageFigure struct {
	ID, Title, Caption string
	SVG                template.HTML
}

type frontRow struct {
	Trial             int
	Knobs             []string
	Accuracy, Latency string
	PBS, MaxBits      int
	Crypto            []string
	Picks             string
}

type chosenInfo struct {
	Trial  int
	Layers []layerRow
}

type layerRow struct {
	Name, Crypto, PBS, Bootstrap, Layer, TLUs, Bits string
}

// figureTitles are the section headings of the plots in index.html.
var figureTitles = map[string]string{
	"pareto":  "Accuracy against latency",
	"history": "Progress",
	"knobs":   "Knob effects",
	"layers":  "Time per layer",
}

// indexHTML renders index.html with the plots' inline SVG in figure order.
func indexHTML(v *view, figs []figure, svgs [][]byte) ([]byte, error) {
	pg := page{Name: v.s.Name, Summary: summary(v), Compare: compareLines(v), Complete: len(v.complete) > 0}
	for _, k := range v.knobs {
		pg.KnobNames = append(pg.KnobNames, strings.Split(k, "_"))
	}
	for i, f := range figs {
		el, err := inlineSVG(svgs[i], f, figureTitles[f.name])
		if err != nil {
			return nil, err
		}
		// The SVG comes from our own renderer, which escapes all text it draws.
		pg.Figures = append(pg.Figures, pageFigure{ID: f.name, Title: figureTitles[f.name], Caption: f.caption, SVG: template.HTML(el)})
	}
	for _, p := range v.s.Picks {
		t := v.byNumber[p.Trial]
		pg.Picks = append(pg.Picks, pickRow{
			Label: p.Label, Trial: t.Number, Accuracy: formatAcc(t.Accuracy), VsFloat: vsFloat(v, t),
			Latency: formatMs(t.LatencyMs), PBS: t.PBSCount, MaxBits: t.MaxTLUBits,
		})
	}
	for _, t := range v.front {
		row := frontRow{
			Trial: t.Number, Accuracy: formatAcc(t.Accuracy), Latency: formatMs(t.LatencyMs),
			PBS: t.PBSCount, MaxBits: t.MaxTLUBits, Crypto: cryptoSets(t),
			Picks: strings.Join(v.pickLabels(t), "; "),
		}
		for _, k := range v.knobs {
			if x, ok := t.Knobs[k]; ok {
				row.Knobs = append(row.Knobs, v.knobText(k, x))
			} else {
				row.Knobs = append(row.Knobs, "off")
			}
		}
		pg.Front = append(pg.Front, row)
	}
	if v.chosen != nil {
		c := &chosenInfo{Trial: v.chosen.Number}
		split := splitKnown(v.chosen.Layers)
		for _, l := range v.chosen.Layers {
			row := layerRow{Name: l.Name, Crypto: l.Crypto, Layer: formatMs(l.LayerMs), TLUs: "0", Bits: "–", PBS: "–", Bootstrap: "–"}
			if l.TLUCount > 0 {
				row.TLUs, row.Bits = strconv.Itoa(l.TLUCount), strconv.Itoa(l.TLUBits)
				row.PBS = formatMs(l.PBSMs)
				if split {
					row.Bootstrap = formatMs(l.BootstrapMs)
				}
			}
			if row.Crypto == "" {
				row.Crypto = "–"
			}
			c.Layers = append(c.Layers, row)
		}
		pg.Chosen = c
	}
	pg.Pruned = prunedRows(v)
	var buf bytes.Buffer
	if err := indexTmpl.Execute(&buf, pg); err != nil {
		return nil, fmt.Errorf("render index.html: %w", err)
	}
	return buf.Bytes(), nil
}

// summary is the line under the title: trial counts by state, front size, float
// accuracy and objectives.
func summary(v *view) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d trials", len(v.s.Trials))
	if len(v.states) > 0 {
		parts := make([]string, len(v.states))
		for i, sc := range v.states {
			parts[i] = fmt.Sprintf("%d %s", sc.Count, strings.ToLower(sc.State))
		}
		b.WriteString(" (" + strings.Join(parts, ", ") + ")")
	}
	if len(v.front) > 0 {
		fmt.Fprintf(&b, "; %d on the Pareto front", len(v.front))
	}
	if v.s.FloatAccuracy > 0 {
		b.WriteString("; float accuracy " + formatAcc(v.s.FloatAccuracy))
	}
	obj := v.s.Objectives
	if len(obj) == 0 {
		obj = []Objective{{ObjectiveAccuracy, Maximize}, {ObjectiveLatency, Minimize}}
	}
	parts := make([]string, len(obj))
	for i, o := range obj {
		parts[i] = o.Direction + " " + o.Name
	}
	b.WriteString("; objectives: " + strings.Join(parts, ", ") + ".")
	return b.String()
}

// compareLines says, for each compared study in order, its front size and best
// accuracy (in the reported study's direction).
func compareLines(v *view) []string {
	var out []string
	for _, f := range v.compare {
		if len(f.points) == 0 {
			out = append(out, "Compared with "+f.name+": no complete trials yet.")
			continue
		}
		best := f.points[0].Accuracy
		for _, p := range f.points[1:] {
			if v.better(p.Accuracy, best) {
				best = p.Accuracy
			}
		}
		trials := "trials"
		if len(f.points) == 1 {
			trials = "trial"
		}
		out = append(out, fmt.Sprintf("Compared with %s: %d %s on its Pareto front, best accuracy %s.",
			f.name, len(f.points), trials, formatAcc(best)))
	}
	return out
}

// vsFloat is a trial's accuracy minus the float accuracy, in percentage points.
func vsFloat(v *view, t *Trial) string {
	if v.s.FloatAccuracy <= 0 {
		return "–"
	}
	return strconv.FormatFloat((t.Accuracy-v.s.FloatAccuracy)*100, 'f', 2, 64) + " pt"
}

// cryptoSets lists the distinct crypto sets of a trial's layers, in layer order.
func cryptoSets(t *Trial) []string {
	var out []string
	for _, l := range t.Layers {
		if l.Crypto != "" && !slices.Contains(out, l.Crypto) {
			out = append(out, l.Crypto)
		}
	}
	if len(out) == 0 {
		out = []string{"–"}
	}
	return out
}

// prunedRows lists the pruned trials by number, with their knobs as "name=value" in
// the order of the front table (then the rest by name).
func prunedRows(v *view) []prunedRow {
	var out []prunedRow
	for _, t := range v.pruned {
		row := prunedRow{Trial: t.Number, Rule: "–", Epoch: "–", ValAccuracy: "–", Threshold: "–", Comparable: "–", As: "–",
			Knobs: v.knobsText(t)}
		if p := t.Pruned; p != nil {
			row.Epoch, row.Comparable = strconv.Itoa(p.Epoch), strconv.Itoa(p.Comparable)
			row.ValAccuracy, row.Threshold = formatAcc(p.ValAccuracy), formatAcc(p.Threshold)
			if p.Rule != "" {
				row.Rule = p.Rule
			}
			if p.AsTrial != t.Number {
				row.As = "#" + strconv.Itoa(p.AsTrial)
			}
		}
		out = append(out, row)
	}
	return out
}

// knobsText formats a trial's knobs as "n_w_bits=3 n_a_bits=4 ...": the shown knobs in
// their order, then the others by name.
func (v *view) knobsText(t *Trial) string {
	names := slices.Clone(v.knobs)
	var rest []string
	for k := range t.Knobs {
		if !slices.Contains(names, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	var parts []string
	for _, k := range append(names, rest...) {
		if x, ok := t.Knobs[k]; ok {
			parts = append(parts, k+"="+v.knobText(k, x))
		}
	}
	return strings.Join(parts, " ")
}
