package report_test

import (
	"bytes"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/report"
)

// compareStudy is smallStudy (latencies 60 to 900 ms) compared with a front that
// reaches beyond it on both sides, a one-trial front and a study without complete
// trials.
func compareStudy() report.Study {
	s := smallStudy()
	s.Compare = []report.Front{
		{Name: "ptq-only", Points: []report.FrontPoint{
			{Trial: 7, Accuracy: 0.85, LatencyMs: 400}, {Trial: 2, Accuracy: 0.4, LatencyMs: 20}, {Trial: 5, Accuracy: 0.93, LatencyMs: 5000}}},
		{Name: "no-pruning", Points: []report.FrontPoint{{Trial: 0, Accuracy: 0.97, LatencyMs: 700}}},
		{Name: "fresh"},
	}
	return s
}

// TestReportCompare: compared fronts get a step line and a legend entry each on the
// Pareto plot, which widens its axes to hold them, and a line each in index.html's
// summary; the study's own marks are unchanged.
func TestReportCompare(t *testing.T) {
	s := compareStudy()
	files, err := report.Render(s, report.Options{Formats: []string{"svg"}})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string][]byte{}
	for _, f := range files {
		byName[f.Name] = f.Data
	}
	pareto := byName["pareto.svg"]
	texts := svgTexts(t, pareto)
	for _, want := range []string{"front of ptq-only (3)", "front of no-pruning (1)", "Pareto front (3)", "complete trial (4)"} {
		if !slices.Contains(texts, want) {
			t.Errorf("pareto.svg has no legend entry %q: %q", want, texts)
		}
	}
	if slices.ContainsFunc(texts, func(s string) bool { return strings.Contains(s, "fresh") }) {
		t.Error("pareto.svg has a legend entry for a study without a front")
	}
	// Without the comparison the latency axis spans about 44 ms to 1.2 s; the compared
	// front stretches it from 20 ms to 5 s.
	for _, tick := range []string{"20 ms", "5 s"} {
		if !slices.Contains(texts, tick) {
			t.Errorf("pareto.svg has no %q tick: the axis does not hold the compared front", tick)
		}
	}
	if n := countFilledPaths(t, pareto, report.ColTrial); n != 4+1 {
		t.Errorf("pareto.svg: %d trial markers, want 4 + 1 legend sample", n)
	}
	if n := countFilledPaths(t, pareto, report.ColFront); n != 3+1 {
		t.Errorf("pareto.svg: %d front markers, want 3 + 1 legend sample", n)
	}
	for i := range 2 {
		if c := report.CompareColour(i); !bytes.Contains(pareto, []byte("stroke:"+c)) {
			t.Errorf("pareto.svg draws nothing in the colour %s of compared front %d", c, i)
		}
	}
	if report.CompareColour(0) == report.CompareColour(1) {
		t.Error("the first two compared fronts share a colour")
	}

	root := parseXML(t, byName["index.html"])
	var lines []string
	for _, ul := range root.findAll("ul") {
		if ul.attr("class") == "compare" {
			lines = ul.texts("li")
		}
	}
	want := []string{
		"Compared with ptq-only: 3 trials on its Pareto front, best accuracy 0.9300.",
		"Compared with no-pruning: 1 trial on its Pareto front, best accuracy 0.9700.",
		"Compared with fresh: no complete trials yet.",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("index.html compare lines = %q, want %q", lines, want)
	}
	if caption := root.allText(); !strings.Contains(caption, "Dashed step lines are the fronts of ptq-only (3), no-pruning (1).") {
		t.Error("index.html: the Pareto plot's caption does not name the compared fronts")
	}
	checkOffline(t, byName["index.html"])

	again, err := report.Render(s, report.Options{Formats: []string{"svg"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range files {
		if !bytes.Equal(files[i].Data, again[i].Data) {
			t.Errorf("%s differs between two renders of the same comparison", files[i].Name)
		}
	}
}

// TestReportCompareNoCompleteTrials: a study without complete trials still lists what it
// is compared with.
func TestReportCompareNoCompleteTrials(t *testing.T) {
	s := report.Study{Name: "fresh", Trials: []report.Trial{{Number: 0, State: "RUNNING"}},
		Compare: []report.Front{{Name: "old", Points: []report.FrontPoint{{Trial: 3, Accuracy: 0.9, LatencyMs: 80}}}}}
	files, err := report.Render(s, report.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Name != report.IndexFile {
		t.Fatalf("files = %d, want index.html only", len(files))
	}
	if text := parseXML(t, files[0].Data).allText(); !strings.Contains(text, "Compared with old: 1 trial on its Pareto front, best accuracy 0.9000.") {
		t.Errorf("index.html does not list the compared study:\n%s", text)
	}
}

func TestReportCompareInvalid(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(*report.Study)
		want  string
	}{
		{"NaN accuracy", func(s *report.Study) { s.Compare[0].Points[1].Accuracy = math.NaN() }, `compare "ptq-only": trial 2: accuracy NaN is not in [0, 1]`},
		{"accuracy above 1", func(s *report.Study) { s.Compare[1].Points[0].Accuracy = 97 }, `compare "no-pruning": trial 0: accuracy 97`},
		{"NaN latency", func(s *report.Study) { s.Compare[0].Points[0].LatencyMs = math.NaN() }, `compare "ptq-only": trial 7: latency_ms NaN is not positive`},
		{"infinite latency", func(s *report.Study) { s.Compare[0].Points[0].LatencyMs = math.Inf(1) }, "trial 7: latency_ms +Inf"},
		{"zero latency", func(s *report.Study) { s.Compare[0].Points[2].LatencyMs = 0 }, "trial 5: latency_ms 0 is not positive (the latency axis is log scale)"},
		{"empty name", func(s *report.Study) { s.Compare[1].Name = "" }, "compare[1]: name is empty"},
		{"the study itself", func(s *report.Study) { s.Compare[2].Name = s.Name }, `compare[2]: "small" is the reported study itself`},
		{"name twice", func(s *report.Study) { s.Compare[2].Name = "ptq-only" }, `compare[2]: study "ptq-only" given twice`},
		{"trial twice", func(s *report.Study) { s.Compare[0].Points[1].Trial = 7 }, `compare "ptq-only": trial 7 appears twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := compareStudy()
			tc.spoil(&s)
			dir := filepath.Join(t.TempDir(), "out")
			err := report.Write(dir, s, report.Options{})
			if !errors.Is(err, report.ErrInvalidStudy) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalidStudy saying %q", err, tc.want)
			}
			if got := listDir(t, filepath.Dir(dir)); len(got) != 0 {
				t.Errorf("a refused write left %v behind", got)
			}
		})
	}
}
