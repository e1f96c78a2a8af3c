package report_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/report"
)

// fixtureFacts are what testdata/study.json holds, counted by hand from the file.
const (
	fixtureTrials   = 62
	fixtureComplete = 50
	fixtureFront    = 17
	fixtureKnobs    = 5 // n_w_bits, n_a_bits, pruning, rounding_threshold_bits, p_error
	fixtureLayers   = 3
)

func TestFixtureFacts(t *testing.T) {
	s := loadFixture(t)
	complete, front := 0, 0
	for _, tr := range s.Trials {
		if tr.State == report.StateComplete {
			complete++
			if tr.Accuracy < 0.1 || tr.Accuracy > 0.97 || tr.LatencyMs < 50 || tr.LatencyMs > 20000 {
				t.Errorf("trial %d: accuracy %v or latency %v outside the plausible range", tr.Number, tr.Accuracy, tr.LatencyMs)
			}
		}
		if tr.OnFront {
			front++
		}
	}
	if len(s.Trials) != fixtureTrials || complete != fixtureComplete || front != fixtureFront {
		t.Fatalf("fixture has %d trials, %d complete, %d on the front; the tests expect %d, %d, %d",
			len(s.Trials), complete, front, fixtureTrials, fixtureComplete, fixtureFront)
	}
}

func TestWriteFullReport(t *testing.T) {
	s := loadFixture(t)
	dir := filepath.Join(t.TempDir(), "report")
	if err := report.Write(dir, s, report.Options{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"history.png", "history.svg", "index.html", "knobs.png", "knobs.svg",
		"layers.png", "layers.svg", "pareto.png", "pareto.svg"}
	if got := listDir(t, dir); !slices.Equal(got, want) {
		t.Fatalf("files = %v, want %v", got, want)
	}
	if got := listDir(t, filepath.Dir(dir)); !slices.Equal(got, []string{"report"}) {
		t.Errorf("parent holds %v, want only the report (no temporary directory left)", got)
	}

	t.Run("png", func(t *testing.T) {
		sizes := map[string]image.Point{ // 150 dpi; knobs: 5 rows; layers: 3 layers
			"pareto": {1350, 840}, "history": {1350, 840}, "knobs": {1350, 1515}, "layers": {1350, 428},
		}
		for name, size := range sizes {
			img := decodePNG(t, filepath.Join(dir, name+".png"))
			if got := img.Bounds().Size(); got != size {
				t.Errorf("%s.png is %v, want %v", name, got, size)
			}
			st := pixelStats(img, img.Bounds())
			if st.distinct < 50 || st.inked < 0.02 {
				t.Errorf("%s.png: %d distinct colours, %.1f%% non-white pixels: want ≥ 50 and ≥ 2%%",
					name, st.distinct, 100*st.inked)
			}
		}
		// The front's markers are filled circles of one exact colour.
		img := decodePNG(t, filepath.Join(dir, "pareto.png"))
		if n := countColour(img, img.Bounds(), report.ColFront, 0); n < fixtureFront*40 {
			t.Errorf("pareto.png has %d front-coloured pixels, want ≥ %d (17 markers)", n, fixtureFront*40)
		}
	})

	t.Run("svg", func(t *testing.T) {
		for _, name := range []string{"pareto", "history", "knobs", "layers"} {
			parseXML(t, readFile(t, filepath.Join(dir, name+".svg")))
		}
		pareto := readFile(t, filepath.Join(dir, "pareto.svg"))
		// One marker per complete trial, one per front trial, plus each one's legend sample.
		if n := countFilledPaths(t, pareto, report.ColTrial); n != fixtureComplete+1 {
			t.Errorf("pareto.svg: %d trial markers, want %d complete trials + 1 legend sample", n, fixtureComplete)
		}
		if n := countFilledPaths(t, pareto, report.ColFront); n != fixtureFront+1 {
			t.Errorf("pareto.svg: %d front markers, want %d + 1 legend sample", n, fixtureFront)
		}
		texts := svgTexts(t, pareto)
		for _, want := range []string{"best within 1% of float; most accurate", "fastest",
			"trial #59: accuracy 0.9682, 9.72 s", "trial #57: accuracy 0.3465, 123 ms",
			"100 ms", "1 s", "10 s", "latency per inference (log scale)", "float model (0.9722)"} {
			if !slices.Contains(texts, want) {
				t.Errorf("pareto.svg has no text %q", want)
			}
		}
		knobs := readFile(t, filepath.Join(dir, "knobs.svg"))
		if n := countFilledPaths(t, knobs, report.ColTrial); n != fixtureComplete*fixtureKnobs*2 {
			t.Errorf("knobs.svg: %d trial markers, want %d (each trial in 2 panels per knob)", n, fixtureComplete*fixtureKnobs*2)
		}
		for _, name := range []string{"n_w_bits", "n_a_bits", "pruning", "rounding_threshold_bits", "p_error"} {
			if !slices.Contains(svgTexts(t, knobs), name) {
				t.Errorf("knobs.svg has no panel for %s", name)
			}
		}
		for _, absent := range []string{"sparsity", "global_p_error"} {
			if slices.Contains(svgTexts(t, knobs), absent) {
				t.Errorf("knobs.svg has a panel for %s, which no trial holds", absent)
			}
		}
		layers := svgTexts(t, readFile(t, filepath.Join(dir, "layers.svg")))
		for _, want := range []string{"dense1+relu", "dense2+relu", "dense3 (logits)", "KS + PBS"} {
			if !slices.Contains(layers, want) {
				t.Errorf("layers.svg has no text %q", want)
			}
		}
	})

	t.Run("index.html", func(t *testing.T) {
		doc := readFile(t, filepath.Join(dir, report.IndexFile))
		checkOffline(t, doc)
		root := parseXML(t, doc)
		if n := len(root.findAll("svg")); n != 4 {
			t.Errorf("index.html embeds %d SVGs, want 4", n)
		}
		front := root.tableAfter("front")
		if front == nil {
			t.Fatal("index.html has no front table")
		}
		rows := front.findAll("tr")
		if len(rows) != fixtureFront+1 {
			t.Errorf("front table has %d rows, want header + %d", len(rows), fixtureFront)
		}
		header := rows[0].texts("th")
		wantHeader := []string{"trial", "n_w_bits", "n_a_bits", "pruning", "rounding_threshold_bits", "p_error",
			"accuracy", "latency", "PBS", "max TLU bits", "crypto sets", "picked as"}
		if !slices.Equal(header, wantHeader) {
			t.Errorf("front table header = %q, want %q", header, wantHeader)
		}
		// The most accurate trial is the last row: #59, picked twice, one 8-bit set.
		last := rows[len(rows)-1].texts("td")
		wantLast := []string{"#59", "7", "8", "0.31", "8", "5.25e-5", "0.9682", "9.72 s", "66", "8",
			"k=1 N=2^14 n=1006 br=2x15 ks=7x3", "best within 1% of float; most accurate"}
		if !slices.Equal(last, wantLast) {
			t.Errorf("last front row = %q, want %q", last, wantLast)
		}
		text := root.allText()
		for _, want := range []string{"62 trials (50 complete, 11 fail, 1 running); 17 on the Pareto front",
			"Trial #59 layer by layer", "best within 1% of float", "-62.57 pt"} {
			if !strings.Contains(text, want) {
				t.Errorf("index.html does not say %q", want)
			}
		}
	})
}

func TestRenderIsDeterministic(t *testing.T) {
	s := loadFixture(t)
	a, err := report.Render(s, report.Options{Formats: []string{"svg"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := report.Render(s, report.Options{Formats: []string{"svg"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) {
		t.Fatalf("%d files, then %d", len(a), len(b))
	}
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Data, b[i].Data) {
			t.Errorf("%s differs between two renders of the same study", a[i].Name)
		}
	}
}

func TestWriteFormats(t *testing.T) {
	s := loadFixture(t)
	s.History = nil // no history plot
	for _, tc := range []struct {
		name    string
		formats []string
		want    []string
	}{
		{"svg only", []string{"svg"}, []string{"index.html", "knobs.svg", "layers.svg", "pareto.svg"}},
		{"png only", []string{"png"}, []string{"index.html", "knobs.png", "layers.png", "pareto.png"}},
		{"both, repeated", []string{"svg", "png", "svg"}, []string{"index.html", "knobs.png", "knobs.svg",
			"layers.png", "layers.svg", "pareto.png", "pareto.svg"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			if err := report.Write(dir, s, report.Options{Formats: tc.formats}); err != nil {
				t.Fatal(err)
			}
			if got := listDir(t, dir); !slices.Equal(got, tc.want) {
				t.Errorf("files = %v, want %v", got, tc.want)
			}
			// index.html embeds SVG whatever the file formats.
			if n := len(parseXML(t, readFile(t, filepath.Join(dir, "index.html"))).findAll("svg")); n != 3 {
				t.Errorf("index.html embeds %d SVGs, want 3", n)
			}
		})
	}
}

func TestWriteNoCompleteTrials(t *testing.T) {
	s := report.Study{
		Name:          "fresh",
		FloatAccuracy: 0.97,
		Trials: []report.Trial{
			{Number: 0, State: "FAIL", Knobs: map[string]float64{"n_w_bits": 9}},
			{Number: 1, State: "FAIL"},
			{Number: 2, State: "RUNNING"},
		},
		History: []report.HistoryPoint{{Trial: 0}, {Trial: 1}},
	}
	dir := filepath.Join(t.TempDir(), "out")
	if err := report.Write(dir, s, report.Options{}); err != nil {
		t.Fatalf("a study without complete trials: %v, want a report that says so", err)
	}
	if got := listDir(t, dir); !slices.Equal(got, []string{"index.html"}) {
		t.Fatalf("files = %v, want index.html only", got)
	}
	doc := readFile(t, filepath.Join(dir, "index.html"))
	checkOffline(t, doc)
	root := parseXML(t, doc)
	text := root.allText()
	for _, want := range []string{"No complete trials yet", "3 trials (2 fail, 1 running)"} {
		if !strings.Contains(text, want) {
			t.Errorf("index.html does not say %q:\n%s", want, text)
		}
	}
	if n := len(root.findAll("svg")) + len(root.findAll("table")); n != 0 {
		t.Errorf("index.html has %d plots or tables, want none", n)
	}
}

// smallStudy has four complete trials, one without rounding, and one failed trial.
func smallStudy() report.Study {
	knobs := func(w, r float64) map[string]float64 {
		k := map[string]float64{"n_w_bits": w, "p_error": 1e-3}
		if r > 0 {
			k["rounding_threshold_bits"] = r
		}
		return k
	}
	return report.Study{
		Name:          "small",
		FloatAccuracy: 0.95,
		Picks:         []report.Pick{{Label: "fastest", Trial: 1}},
		Trials: []report.Trial{
			{Number: 0, State: "COMPLETE", Accuracy: 0.9, LatencyMs: 900, Knobs: knobs(6, 0), OnFront: true, PBSCount: 10, MaxTLUBits: 9},
			{Number: 1, State: "COMPLETE", Accuracy: 0.5, LatencyMs: 60, Knobs: knobs(3, 4), OnFront: true, PBSCount: 10, MaxTLUBits: 4,
				Layers: []report.Layer{{Name: "fc1", TLUCount: 10, TLUBits: 4, Crypto: "k=2 N=2^10 n=801 br=1x23 ks=5x3", PBSMs: 14, LayerMs: 60}}},
			{Number: 2, State: "COMPLETE", Accuracy: 0.7, LatencyMs: 300, Knobs: knobs(4, 5), PBSCount: 10, MaxTLUBits: 5},
			{Number: 3, State: "COMPLETE", Accuracy: 0.8, LatencyMs: 400, Knobs: knobs(5, 6), OnFront: true, PBSCount: 10, MaxTLUBits: 6},
			{Number: 4, State: "FAIL", Knobs: knobs(8, 0)},
		},
	}
}

func TestWriteKnobOff(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	if err := report.Write(dir, smallStudy(), report.Options{Formats: []string{"svg"}}); err != nil {
		t.Fatal(err)
	}
	// Without history, no history plot; the chosen trial (the pick) has layers.
	if got := listDir(t, dir); !slices.Equal(got, []string{"index.html", "knobs.svg", "layers.svg", "pareto.svg"}) {
		t.Fatalf("files = %v", got)
	}
	knobs := readFile(t, filepath.Join(dir, "knobs.svg"))
	if n := countFilledPaths(t, knobs, report.ColTrial); n != 4*3*2 {
		t.Errorf("knobs.svg: %d trial markers, want 24 (4 trials, 3 knobs, 2 panels)", n)
	}
	if !slices.Contains(svgTexts(t, knobs), "off") {
		t.Error(`knobs.svg has no "off" tick for the trial without rounding`)
	}
	root := parseXML(t, readFile(t, filepath.Join(dir, "index.html")))
	rows := root.tableAfter("front").findAll("tr")
	// Front by latency: #1, #3, #0; #0 has no rounding.
	if got := rows[3].texts("td")[:4]; !slices.Equal(got, []string{"#0", "6", "off", "1e-3"}) {
		t.Errorf("front row of trial 0 = %q, want rounding shown as off", got)
	}
}

// TestWriteCategoricalKnob: rounding_method is stored as an index and shown by name on
// the knob plot's axis and in the front table.
func TestWriteCategoricalKnob(t *testing.T) {
	s := smallStudy()
	s.KnobLabels = map[string][]string{"rounding_method": {"exact", "approximate"}}
	for i := range s.Trials {
		s.Trials[i].Knobs["rounding_method"] = float64(i % 2)
	}
	dir := filepath.Join(t.TempDir(), "out")
	if err := report.Write(dir, s, report.Options{Formats: []string{"svg"}}); err != nil {
		t.Fatal(err)
	}
	knobs := readFile(t, filepath.Join(dir, "knobs.svg"))
	texts := svgTexts(t, knobs)
	for _, w := range []string{"rounding_method", "exact", "approximate"} {
		if !slices.Contains(texts, w) {
			t.Errorf("knobs.svg has no text %q", w)
		}
	}
	if n := countFilledPaths(t, knobs, report.ColTrial); n != 4*4*2 {
		t.Errorf("knobs.svg: %d trial markers, want 32 (4 trials, 4 knobs, 2 panels)", n)
	}
	root := parseXML(t, readFile(t, filepath.Join(dir, "index.html")))
	rows := root.tableAfter("front").findAll("tr")
	// Front by latency: #1 (approximate), #3 (approximate), #0 (exact).
	for i, want := range [][]string{{"#1", "3", "4", "approximate"}, {"#3", "5", "6", "approximate"}, {"#0", "6", "off", "exact"}} {
		if got := rows[1+i].texts("td")[:4]; !slices.Equal(got, want) {
			t.Errorf("front row %d = %q, want %q", i, got, want)
		}
	}
	for _, bad := range []float64{2, 0.5, -1} {
		s.Trials[2].Knobs["rounding_method"] = bad
		err := report.Write(filepath.Join(t.TempDir(), "bad"), s, report.Options{})
		if !errors.Is(err, report.ErrInvalidStudy) || !strings.Contains(err.Error(), "trial 2: knob rounding_method") {
			t.Errorf("rounding_method %v: err = %v, want ErrInvalidStudy naming it", bad, err)
		}
	}
}

func TestWriteInvalidStudy(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(*report.Study)
		want  string
	}{
		{"empty name", func(s *report.Study) { s.Name = "" }, "name is empty"},
		{"NaN accuracy", func(s *report.Study) { s.Trials[2].Accuracy = math.NaN() }, "trial 2: accuracy NaN"},
		{"accuracy above 1", func(s *report.Study) { s.Trials[2].Accuracy = 96.3 }, "trial 2: accuracy 96.3 is not in [0, 1]"},
		{"zero latency", func(s *report.Study) { s.Trials[3].LatencyMs = 0 }, "trial 3: latency_ms 0 is not positive"},
		{"infinite knob", func(s *report.Study) { s.Trials[0].Knobs["p_error"] = math.Inf(1) }, "trial 0: knob p_error is +Inf"},
		{"duplicate number", func(s *report.Study) { s.Trials[4].Number = 1 }, "trial number 1 appears twice"},
		{"pick of a failed trial", func(s *report.Study) { s.Picks[0].Trial = 4 }, `pick "fastest": trial 4 is not a complete trial`},
		{"pick of a missing trial", func(s *report.Study) { s.Picks[0].Trial = 99 }, "trial 99 is not a complete trial"},
		{"chosen trial missing", func(s *report.Study) { c := 42; s.ChosenTrial = &c }, "chosen_trial 42"},
		{"no front", func(s *report.Study) {
			for i := range s.Trials {
				s.Trials[i].OnFront = false
			}
		}, "4 complete trials but none is on_front"},
		{"failed trial on the front", func(s *report.Study) { s.Trials[4].OnFront = true }, "trial 4: on_front but state is FAIL"},
		{"unknown objective", func(s *report.Study) { s.Objectives = []report.Objective{{Name: "energy", Direction: "minimize"}} }, `unknown name "energy"`},
		{"bad direction", func(s *report.Study) { s.Objectives = []report.Objective{{Name: "accuracy", Direction: "up"}} }, `direction "up"`},
		{"bootstrap beyond layer", func(s *report.Study) { s.Trials[1].Layers[0].BootstrapMs = 61 }, "bootstrap_ms 61 exceeds layer_ms 60"},
		{"NaN history", func(s *report.Study) { s.History = []report.HistoryPoint{{Trial: 0, Hypervolume: math.NaN()}} }, "history[0] (trial 0): non-finite"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := smallStudy()
			tc.spoil(&s)
			dir := filepath.Join(t.TempDir(), "out")
			err := report.Write(dir, s, report.Options{})
			if !errors.Is(err, report.ErrInvalidStudy) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalidStudy saying %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "report: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a failed write left %s behind (stat: %v)", dir, err)
			}
		})
	}
}

func TestWriteBadOutput(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file.txt")
	if err := os.WriteFile(file, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, dir, want string }{
		{"out is a file", file, "exists and is not a directory"},
		{"parent is a file", filepath.Join(file, "report"), "not a directory"},
		{"empty path", "", "the path is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := report.Write(tc.dir, smallStudy(), report.Options{})
			if !errors.Is(err, report.ErrOutputDir) || !strings.Contains(err.Error(), tc.want) ||
				!strings.Contains(err.Error(), tc.dir) {
				t.Fatalf("err = %v, want ErrOutputDir naming %q and saying %q", err, tc.dir, tc.want)
			}
		})
	}
	if got := listDir(t, base); !slices.Equal(got, []string{"file.txt"}) {
		t.Errorf("failed writes left %v in %s", got, base)
	}
	err := report.Write(filepath.Join(base, "x"), smallStudy(), report.Options{Formats: []string{"pdf"}})
	if !errors.Is(err, report.ErrUnknownFormat) || !strings.Contains(err.Error(), `"pdf"`) {
		t.Errorf("format pdf: err = %v, want ErrUnknownFormat naming it", err)
	}
}

// TestWriteReplacesReport writes a report over an older one: the report's files are
// replaced, plots the new report lacks are removed, the user's files stay.
func TestWriteReplacesReport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	if err := report.Write(dir, loadFixture(t), report.Options{Formats: []string{"svg"}}); err != nil {
		t.Fatal(err)
	}
	notes := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notes, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := smallStudy() // no history plot
	if err := report.Write(dir, s, report.Options{Formats: []string{"svg"}}); err != nil {
		t.Fatal(err)
	}
	want := []string{"index.html", "knobs.svg", "layers.svg", "notes.txt", "pareto.svg"}
	if got := listDir(t, dir); !slices.Equal(got, want) {
		t.Errorf("files = %v, want %v (history.svg removed, notes.txt kept, no temporary directory)", got, want)
	}
	if !strings.Contains(parseXML(t, readFile(t, filepath.Join(dir, "index.html"))).allText(), "small") {
		t.Error("index.html is still the old report's")
	}
	// An invalid study leaves the existing report untouched.
	before := readFile(t, filepath.Join(dir, "index.html"))
	s.Trials[0].LatencyMs = -1
	if err := report.Write(dir, s, report.Options{}); !errors.Is(err, report.ErrInvalidStudy) {
		t.Fatalf("err = %v, want ErrInvalidStudy", err)
	}
	if !bytes.Equal(readFile(t, filepath.Join(dir, "index.html")), before) || !slices.Equal(listDir(t, dir), want) {
		t.Error("a failed write changed the existing report")
	}
}

func TestFormatting(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{report.FormatMs(123.4), "123 ms"},
		{report.FormatMs(50), "50 ms"},
		{report.FormatMs(1000), "1 s"},
		{report.FormatMs(9718.61), "9.72 s"},
		{report.FormatMs(20000), "20 s"},
		{report.FormatMs(0.24), "0.24 ms"},
		{report.FormatMs(0), "0 ms"},
		{report.FormatKnob(8), "8"},
		{report.FormatKnob(0.31), "0.31"},
		{report.FormatKnob(5.25e-05), "5.25e-5"},
		{report.FormatKnob(1e-3), "1e-3"},
		{report.FormatExp(0.1), "1e-1"},
		{report.FormatExp(2.5e-3), "2.5e-3"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// --- helpers ---

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func listDir(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func decodePNG(t testing.TB, path string) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(readFile(t, path)))
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return img
}

type stats struct {
	distinct int     // distinct colours
	inked    float64 // share of pixels that are not white
}

func pixelStats(img image.Image, r image.Rectangle) stats {
	seen := map[color.RGBA]bool{}
	inked := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			seen[c] = true
			if c.R < 250 || c.G < 250 || c.B < 250 {
				inked++
			}
		}
	}
	return stats{distinct: len(seen), inked: float64(inked) / float64(r.Dx()*r.Dy())}
}

// countColour counts the pixels of r within tol of a "#RRGGBB" colour on each channel.
func countColour(img image.Image, r image.Rectangle, hex string, tol int) int {
	wr, wg, wb := report.RGB(hex)
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			if near(c.R, wr, tol) && near(c.G, wg, tol) && near(c.B, wb, tol) {
				n++
			}
		}
	}
	return n
}

func near(a, b uint8, tol int) bool { return int(a)-int(b) <= tol && int(b)-int(a) <= tol }

// node is a generic XML element.
type node struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Nodes   []node     `xml:",any"`
	Text    string     `xml:",chardata"`
}

// parseXML checks that doc is well-formed XML, token by token, and returns its root.
func parseXML(t testing.TB, doc []byte) *node {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	for {
		_, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
	}
	var root node
	if err := xml.Unmarshal(doc, &root); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return &root
}

func (n *node) findAll(name string) []*node {
	var out []*node
	var walk func(*node)
	walk = func(m *node) {
		for i := range m.Nodes {
			c := &m.Nodes[i]
			if c.XMLName.Local == name {
				out = append(out, c)
			}
			walk(c)
		}
	}
	walk(n)
	return out
}

func (n *node) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// allText is the text of n and its descendants, with spaces between elements (each
// element's own text before its children's: enough for table cells and summaries).
func (n *node) allText() string {
	var b strings.Builder
	var walk func(*node)
	walk = func(m *node) {
		b.WriteString(m.Text)
		for i := range m.Nodes {
			if m.Nodes[i].XMLName.Local != "wbr" { // a line break opportunity, not a space
				b.WriteString(" ")
			}
			walk(&m.Nodes[i])
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// texts returns the text of each descendant element with the given name.
func (n *node) texts(name string) []string {
	var out []string
	for _, c := range n.findAll(name) {
		out = append(out, c.allText())
	}
	return out
}

// tableAfter returns the first table after the heading with the given id, in document
// order.
func (n *node) tableAfter(id string) *node {
	var found bool
	var table *node
	var walk func(*node)
	walk = func(m *node) {
		for i := range m.Nodes {
			c := &m.Nodes[i]
			if table != nil {
				return
			}
			if c.attr("id") == id {
				found = true
			}
			if found && c.XMLName.Local == "table" {
				table = c
				return
			}
			walk(c)
		}
	}
	walk(n)
	return table
}

// countFilledPaths counts the SVG paths filled with a "#RRGGBB" colour: one per marker.
func countFilledPaths(t testing.TB, svg []byte, hex string) int {
	n := 0
	for _, p := range parseXML(t, svg).findAll("path") {
		if strings.Contains(p.attr("style"), "fill:"+hex) {
			n++
		}
	}
	return n
}

// svgTexts returns the text of every <text> element.
func svgTexts(t testing.TB, svg []byte) []string {
	return parseXML(t, svg).texts("text")
}

// checkOffline fails unless the HTML page needs nothing from outside itself: no element
// that loads a resource, no reference to a URL, no CSS import or url().
func checkOffline(t testing.TB, doc []byte) {
	t.Helper()
	s := string(doc)
	for _, bad := range []string{"http://", "https://", "//www.", "url(", "@import", "@font-face"} {
		if strings.Contains(s, bad) {
			t.Errorf("index.html contains %q", bad)
		}
	}
	root := parseXML(t, doc)
	for _, el := range []string{"script", "link", "img", "iframe", "object", "embed", "base", "image", "use", "audio", "video", "source", "a"} {
		if n := len(root.findAll(el)); n > 0 {
			t.Errorf("index.html has %d <%s> elements", n, el)
		}
	}
	var walk func(*node)
	walk = func(m *node) {
		for _, a := range m.Attrs {
			switch a.Name.Local {
			case "src", "href", "srcset", "action", "data", "poster":
				t.Errorf("<%s> has a %s attribute %q", m.XMLName.Local, a.Name.Local, a.Value)
			}
		}
		for i := range m.Nodes {
			walk(&m.Nodes[i])
		}
	}
	walk(root)
}

// TestWriteVerifiedTrial: a trial run under encryption is marked on the Pareto plot at
// its measured latency, with a legend entry; a bad verification is refused.
func TestWriteVerifiedTrial(t *testing.T) {
	s := smallStudy()
	s.Trials[1].Verified = &report.Verification{Samples: 10, Accuracy: 0.9, LatencyMs: 2 * s.Trials[1].LatencyMs}
	dir := filepath.Join(t.TempDir(), "out")
	if err := report.Write(dir, s, report.Options{Formats: []string{"svg"}}); err != nil {
		t.Fatal(err)
	}
	texts := svgTexts(t, readFile(t, filepath.Join(dir, "pareto.svg")))
	if !slices.Contains(texts, "verified encrypted (1, measured)") {
		t.Errorf("pareto.svg has no legend entry for the verified trial: %q", texts)
	}
	for _, bad := range []report.Verification{{Samples: 0, Accuracy: 0.9, LatencyMs: 5}, {Samples: 3, Accuracy: 1.5, LatencyMs: 5}, {Samples: 3, Accuracy: 0.5}} {
		s.Trials[1].Verified = &bad
		err := report.Write(filepath.Join(t.TempDir(), "bad"), s, report.Options{})
		if !errors.Is(err, report.ErrInvalidStudy) || !strings.Contains(err.Error(), "trial 1: verification") {
			t.Errorf("verification %+v: err = %v, want ErrInvalidStudy naming it", bad, err)
		}
	}
}
