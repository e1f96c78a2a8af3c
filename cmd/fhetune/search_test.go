package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/tuner"
)

var searchKnobs = []string{"--dataset", "digits", "--n-w-bits", "4", "--n-a-bits", "4", "--rounding-threshold-bits", "6"}

func TestSearchPErrorDigits(t *testing.T) {
	cache := t.TempDir()
	args := append([]string{"search", "p-error", "--max-accuracy-drop", "0.01", "--json"}, searchKnobs...)
	code, out, errs := evalCLI(t, cache, args...)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, out)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"accuracy", "evaluations", "history", "latency_ms", "p_error"}; !slices.Equal(keys, want) {
		t.Errorf("JSON fields %v, want %v", keys, want)
	}
	var steps []map[string]json.RawMessage
	if err := json.Unmarshal(m["history"], &steps); err != nil || len(steps) == 0 {
		t.Fatalf("history %s: %v", m["history"], err)
	}
	for _, s := range steps {
		for _, k := range []string{"p_error", "accuracy", "accepted"} {
			if _, ok := s[k]; !ok {
				t.Errorf("history step %v lacks %q", s, k)
			}
		}
	}
	var r tuner.PErrorResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if !(r.PError > 0 && r.PError < 0.9) || !(r.Accuracy > 0.8) || !(r.LatencyMS > 0) || r.Evaluations != len(r.History) || r.Evaluations > 12 {
		t.Errorf("result %+v", r)
	}
	if n := strings.Count(errs, "search p-error: step "); n != r.Evaluations {
		t.Errorf("stderr shows %d steps, want %d:\n%s", n, r.Evaluations, errs)
	}
	// The same search, for people: the steps and the result line.
	code, human, errs := evalCLI(t, cache, append([]string{"search", "p-error", "--max-accuracy-drop", "0.01"}, searchKnobs...)...)
	if code != 0 || strings.Contains(errs, "training") {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(human), "\n")
	if len(lines) != r.Evaluations+5 || !strings.HasPrefix(lines[0], "p_error search on mlp:64,64 (digits)") ||
		!strings.Contains(lines[2], "accepted") || !strings.HasPrefix(lines[len(lines)-1], "p_error ") ||
		!strings.Contains(lines[len(lines)-1], fmt.Sprintf("%d evaluations", r.Evaluations)) {
		t.Errorf("human output:\n%s", human)
	}
}

func TestSearchPErrorBadInput(t *testing.T) {
	cache := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no drop", nil, "--max-accuracy-drop is required"},
		{"drop 1", []string{"--max-accuracy-drop", "1"}, "--max-accuracy-drop 1 outside [0, 1)"},
		{"drop below 0", []string{"--max-accuracy-drop", "-0.01"}, "--max-accuracy-drop -0.01 outside [0, 1)"},
		{"drop NaN", []string{"--max-accuracy-drop", "NaN"}, "--max-accuracy-drop NaN outside [0, 1)"},
		{"global and p_error", []string{"--max-accuracy-drop", "0.01", "--global", "--p-error", "0.01"}, "--p-error conflicts with --global"},
		{"global and global_p_error", []string{"--max-accuracy-drop", "0.01", "--global", "--global-p-error", "0.01"}, "--global-p-error conflicts with --global"},
		{"p_error", []string{"--max-accuracy-drop", "0.01", "--p-error", "0.01"}, "--p-error is what the search finds"},
		{"global_p_error without global", []string{"--max-accuracy-drop", "0.01", "--global-p-error", "0.01"}, "--global-p-error conflicts"},
		{"eval flag", []string{"--max-accuracy-drop", "0.01", "--n-w-bits", "0"}, "--n-w-bits 0 outside 1..16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := evalCLI(t, cache, append([]string{"search", "p-error", "--dataset", "digits"}, tc.args...)...)
			if code != 2 || out != "" || strings.Count(errs, "\n") != 1 {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
			}
			if !strings.HasPrefix(errs, "fhetune: search p-error: ") || !strings.Contains(errs, tc.want) {
				t.Errorf("error %q, want %q", errs, tc.want)
			}
		})
	}
	code, _, errs := evalCLI(t, cache, "search", "q-error")
	if code != 2 || !strings.Contains(errs, "q-error") {
		t.Errorf("unknown search: exit %d, %s", code, errs)
	}
}
