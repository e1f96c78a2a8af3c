package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/studies"
	"github.com/fhetune/fhetune/tuner"
)

// makePrunedDB writes a study "qat" with two complete trials and a trial pruned as Run
// stores one: its validation accuracy per epoch and the verdict as attributes.
func makePrunedDB(t *testing.T, path string) {
	t.Helper()
	ctx := context.Background()
	s, err := studies.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	objs := []studies.Objective{{Name: "accuracy", Direction: studies.Maximize}, {Name: "latency_ms", Direction: studies.Minimize}}
	st, err := s.CreateStudy(ctx, studies.NewStudy{Name: "qat", Objectives: objs})
	if err != nil {
		t.Fatal(err)
	}
	knobs := func(w float64) []studies.Param {
		return []studies.Param{{Name: "n_w_bits", Value: w}, {Name: "n_a_bits", Value: 3}, {Name: "training", Value: 1}}
	}
	for i, v := range [][]float64{{0.9, 100}, {0.93, 300}} {
		tr, err := s.StartTrial(ctx, st.ID, "w")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetParams(ctx, tr.ID, knobs(float64(2+i))); err != nil {
			t.Fatal(err)
		}
		if err := s.Complete(ctx, tr.ID, v, nil); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := s.StartTrial(ctx, st.ID, "w")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetParams(ctx, tr.ID, knobs(4)); err != nil {
		t.Fatal(err)
	}
	for e, v := range []float64{0.7, 0.8, 0.82} {
		if err := s.Report(ctx, tr.ID, e, v); err != nil {
			t.Fatal(err)
		}
	}
	attrs := `{"pruned":{"rule":"dominated","trial":2,"epoch":2,"val_accuracy":0.82,"threshold":0.88,"comparable":1},"knobs":{"n_w_bits":4}}`
	if err := s.Prune(ctx, tr.ID, json.RawMessage(attrs)); err != nil {
		t.Fatal(err)
	}
}

// TestStudyShowPruned: study show lists pruned trials with why they stopped (text and
// JSON, with their validation accuracy per epoch), and the report has a table of them.
func TestStudyShowPruned(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	path := filepath.Join(dir, "s.db")
	makePrunedDB(t, path)

	code, out, errOut := studyCLI(t, "--db", path, "study", "show", "qat")
	if code != 0 {
		t.Fatalf("study show: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"3 (complete 2, running 0, waiting 0, fail 0, pruned 1)", "Pruned (training stopped early): 1 trials",
		"TRIAL  RULE", "2      dominated  2      0.8200        0.8800     1           -         n_w_bits=4 n_a_bits=3 training=qat"} {
		if !strings.Contains(out, want) {
			t.Errorf("study show lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = studyCLI(t, "--db", path, "study", "show", "qat", "--json")
	var doc struct {
		Pruned []struct {
			Number       int                `json:"number"`
			Knobs        map[string]any     `json:"knobs"`
			Pruned       tuner.PrunedError  `json:"pruned"`
			Intermediate map[string]float64 `json:"intermediate"`
		} `json:"pruned"`
		Front []studies.Trial `json:"front"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 0 {
		t.Fatalf("study show --json: exit %d, %v:\n%s", code, err, out)
	}
	if len(doc.Pruned) != 1 || doc.Pruned[0].Number != 2 || doc.Pruned[0].Pruned.Epoch != 2 || doc.Pruned[0].Pruned.Threshold != 0.88 ||
		doc.Pruned[0].Knobs["training"] != "qat" || len(doc.Pruned[0].Intermediate) != 3 || len(doc.Front) != 2 {
		t.Errorf("study show --json: pruned %+v, front of %d", doc.Pruned, len(doc.Front))
	}

	outDir := filepath.Join(dir, "report")
	if code, _, errOut := studyCLI(t, "--db", path, "report", "qat", "--out", outDir, "--format", "svg"); code != 0 {
		t.Fatalf("report: exit %d: %s", code, errOut)
	}
	html, err := os.ReadFile(filepath.Join(outDir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"3 trials (2 complete, 1 pruned)", `id="pruned"`, "<td>#2</td><td class=\"text\">dominated</td><td>2</td><td>0.8200</td><td>0.8800</td>"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
}
