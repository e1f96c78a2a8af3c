package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStudyVerify(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "s.db")
	spec := filepath.Join(dir, "small.yaml")
	// Small knobs so that the encrypted run takes seconds: a pruned MLP, 3-bit weights and
	// activations, exact rounding to 4 bits, a tiny p_error.
	if err := os.WriteFile(spec, []byte(`name: small
dataset: digits
space:
  n_w_bits: 3
  n_a_bits: 3
  n_input_bits: 4
  pruning: [0.7, 0.75]
  rounding_threshold_bits: 4
  rounding_method: exact
  p_error: 1e-9
sampler: random
trials: 1
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := studyCLI(t, "--db", db, "study", "start", "--spec", spec); code != 0 {
		t.Fatalf("study start: exit %d, stderr %s", code, errs)
	}
	code, out, errs := studyCLI(t, "--db", db, "study", "verify", "small", "--trial", "0", "--samples", "1", "--json")
	if code != 0 {
		t.Fatalf("study verify: exit %d, stderr %s", code, errs)
	}
	var res struct {
		Samples   int     `json:"samples"`
		Agreement float64 `json:"agreement"`
		TLUErrors int     `json:"tlu_errors"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Samples != 1 || res.Agreement != 1 || res.TLUErrors != 0 {
		t.Fatalf("result %s: %v", out, err)
	}
	// Stored on the trial: study show lists it, study export carries it.
	code, out, errs = studyCLI(t, "--db", db, "study", "show", "small", "--json")
	if code != 0 {
		t.Fatalf("study show: exit %d, stderr %s", code, errs)
	}
	var show struct {
		Verified []struct {
			Number  int `json:"number"`
			Samples int `json:"samples"`
		} `json:"verified"`
	}
	if err := json.Unmarshal([]byte(out), &show); err != nil || len(show.Verified) != 1 || show.Verified[0].Samples != 1 {
		t.Fatalf("study show verified %+v: %v", show.Verified, err)
	}
	// The circuit's sets were timed against the profile's times for them.
	if _, text, _ := studyCLI(t, "--db", db, "study", "show", "small"); !strings.Contains(text, "Verified under encryption") ||
		!strings.Contains(text, "SETS_SPEED") || !strings.Contains(text, "×") {
		t.Errorf("study show text lacks the verified trials or their sets' speed:\n%s", text)
	}
	if _, csv, _ := studyCLI(t, "--db", db, "study", "export", "small", "--format", "csv"); !strings.Contains(strings.SplitN(csv, "\n", 2)[0], "verified") {
		t.Errorf("export header lacks verified: %q", strings.SplitN(csv, "\n", 2)[0])
	}
	// Bad input: exit 2, one line, nothing stored.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--trial", "7"}, "no trial 7"},
		{[]string{"--trial", "0", "--samples", "0"}, "--samples 0"},
		{[]string{"--trial", "0", "--max-key-mb", "1"}, "keys too large"},
		{[]string{}, "--trial is required"},
	} {
		code, out, errs := studyCLI(t, append([]string{"--db", db, "study", "verify", "small"}, c.args...)...)
		last := errs[strings.LastIndex(strings.TrimSuffix(errs, "\n"), "\n")+1:]
		if code != 2 || out != "" || !strings.Contains(last, c.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q, want %q", c.args, code, out, last, c.want)
		}
	}
}
