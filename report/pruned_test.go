package report_test

import (
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/report"
)

// prunedStudy is smallStudy with two pruned trials: one whose training was judged, one
// that shares its verdict.
func prunedStudy() report.Study {
	s := smallStudy()
	p := &report.Pruning{Rule: "dominated", Epoch: 2, ValAccuracy: 0.85, Threshold: 0.9, Comparable: 1, AsTrial: 5}
	s.Trials = append(s.Trials,
		report.Trial{Number: 6, State: report.StatePruned, Knobs: map[string]float64{"n_w_bits": 7, "p_error": 1e-2}, Pruned: &report.Pruning{
			Rule: "dominated", Epoch: 2, ValAccuracy: 0.85, Threshold: 0.9, Comparable: 1, AsTrial: 5}},
		report.Trial{Number: 5, State: report.StatePruned, Knobs: map[string]float64{"n_w_bits": 7, "p_error": 1e-3}, Pruned: p},
		report.Trial{Number: 7, State: report.StatePruned})
	return s
}

// TestWritePrunedTrials: pruned trials are counted in the summary, listed by number in
// a table of their own with why their training stopped, and never plotted.
func TestWritePrunedTrials(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	if err := report.Write(dir, prunedStudy(), report.Options{Formats: []string{"svg"}}); err != nil {
		t.Fatal(err)
	}
	root := parseXML(t, readFile(t, filepath.Join(dir, "index.html")))
	if text := root.allText(); !strings.Contains(text, "8 trials (4 complete, 3 pruned, 1 fail)") {
		t.Errorf("summary does not count the pruned trials:\n%s", text)
	}
	table := root.tableAfter("pruned")
	if table == nil {
		t.Fatal("index.html has no table of pruned trials")
	}
	rows := table.findAll("tr")
	if len(rows) != 4 {
		t.Fatalf("%d rows in the pruned table, want a header and 3", len(rows))
	}
	for i, want := range [][]string{
		{"#5", "dominated", "2", "0.8500", "0.9000", "1", "–", "n_w_bits=7 p_error=1e-3"},
		{"#6", "dominated", "2", "0.8500", "0.9000", "1", "#5", "n_w_bits=7 p_error=0.01"},
		{"#7", "–", "–", "–", "–", "–", "–", ""},
	} {
		if got := rows[i+1].texts("td"); !slices.Equal(got, want) {
			t.Errorf("pruned row %d = %q, want %q", i, got, want)
		}
	}
	// The knob plot has the complete trials' markers only.
	if n := countFilledPaths(t, readFile(t, filepath.Join(dir, "knobs.svg")), report.ColTrial); n != 4*3*2 {
		t.Errorf("knobs.svg: %d trial markers, want 24 (4 complete trials, 3 knobs, 2 panels)", n)
	}
	if front := root.tableAfter("front").findAll("tr"); len(front) != 4 {
		t.Errorf("front table has %d rows, want a header and 3", len(front))
	}
}

func TestWriteInvalidPruning(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(*report.Study)
		want  string
	}{
		{"pruning of a complete trial", func(s *report.Study) { s.Trials[0].Pruned = &report.Pruning{} }, "trial 0: pruned but state is COMPLETE"},
		{"threshold above 1", func(s *report.Study) { s.Trials[5].Pruned.Threshold = 2 }, "trial 6: pruning"},
		{"NaN accuracy", func(s *report.Study) { s.Trials[5].Pruned.ValAccuracy = math.NaN() }, "trial 6: pruning"},
		{"negative epoch", func(s *report.Study) { s.Trials[5].Pruned.Epoch = -1 }, "trial 6: pruning"},
		{"pruned trial on the front", func(s *report.Study) { s.Trials[6].OnFront = true }, "trial 5: on_front but state is PRUNED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := prunedStudy()
			tc.spoil(&s)
			err := report.Write(filepath.Join(t.TempDir(), "out"), s, report.Options{})
			if !errors.Is(err, report.ErrInvalidStudy) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalidStudy saying %q", err, tc.want)
			}
		})
	}
}
