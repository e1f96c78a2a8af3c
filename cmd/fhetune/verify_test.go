package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/tuner"
)

var verifyKnobs = []string{"--n-w-bits", "3", "--n-a-bits", "3", "--n-input-bits", "4", "--pruning", "0.7",
	"--rounding-threshold-bits", "4", "--p-error", "1e-9", "--cores", "2"}

func TestVerifyJSON(t *testing.T) {
	args := append([]string{"verify", "--dataset", "digits", "--model", "mlp", "--samples", "1", "--json"}, verifyKnobs...)
	code, out, errs := evalCLI(t, t.TempDir(), args...)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, out)
	}
	for _, k := range []string{"samples", "encrypted_accuracy", "simulated_accuracy", "agreement", "latency_ms_measured",
		"latency_ms_predicted", "latency_error", "set_speeds", "latency_ms_at_set_speed", "latency_error_at_set_speed", "keygen_ms", "key_mb", "bootstraps", "tlu_errors", "expected_tlu_errors", "layers"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	var r verifyOutput
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Samples != 1 || r.Agreement != 1 || r.TLUErrors != 0 || len(r.Layers) != 3 || !(r.LatencyMSMeasured > 0) || r.Model != "mlp:64,64" {
		t.Errorf("result %+v", r)
	}
	// On two cores each set is timed on one core and on both at once.
	for _, sp := range r.SetSpeeds {
		if !(sp.MeasuredMS > 0 && sp.PredictedMS > 0 && sp.MeasuredAllCoresMS > 0 && sp.PredictedAllCoresMS >= sp.PredictedMS) {
			t.Errorf("set speed %+v", sp)
		}
	}
	if len(r.SetSpeeds) == 0 || !(r.LatencyMSAtSetSpeed > 0) {
		t.Errorf("set speeds %+v, latency at their speed %g", r.SetSpeeds, r.LatencyMSAtSetSpeed)
	}
	for _, k := range []string{"name", "bootstraps", "measured_ms", "predicted_ms", "tlu_errors", "expected_tlu_errors"} {
		var layers []map[string]json.RawMessage
		if err := json.Unmarshal(m["layers"], &layers); err != nil || len(layers) == 0 {
			t.Fatalf("layers %s: %v", m["layers"], err)
		}
		if _, ok := layers[0][k]; !ok {
			t.Errorf("layer JSON lacks %q", k)
		}
	}
	if !strings.Contains(errs, "verify: sample 1/1 done") {
		t.Errorf("stderr progress %q", errs)
	}
}

func TestVerifyBadInput(t *testing.T) {
	cache := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no samples", []string{"--samples", "0"}, "--samples 0"},
		{"negative key bound", []string{"--max-key-mb", "-1"}, "--max-key-mb -1"},
		{"keys too large", []string{"--max-key-mb", "1"}, "keys too large"},
		{"rounding 9", []string{"--rounding-threshold-bits", "9"}, "--rounding-threshold-bits 9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"verify", "--dataset", "digits", "--model", "mlp"}, verifyKnobs...), tc.args...)
			code, out, errs := evalCLI(t, cache, args...)
			last := errs[strings.LastIndex(strings.TrimSuffix(errs, "\n"), "\n")+1:]
			if code != 2 || out != "" || !strings.HasPrefix(last, "fhetune: ") || !strings.Contains(last, tc.want) {
				t.Errorf("exit %d, stdout %q, last stderr line %q, want %q", code, out, last, tc.want)
			}
		})
	}
}

// TestVerifyDriftNote: the text output says the machine's speed moved when the latency
// misses the goal against the profile but meets it at the sets' speed of the moment,
// and says nothing when both miss (the model is off) or both hold.
func TestVerifyDriftNote(t *testing.T) {
	set := tuner.VerifySet{MeasuredMS: 14, PredictedMS: 10}
	for _, c := range []struct {
		profile, atSpeed float64
		note             bool
	}{
		{-0.29, 0.03, true},
		{0.20, -0.10, true},
		{-0.29, -0.20, false},
		{0.05, 0.02, false},
	} {
		r := tuner.VerifyResult{LatencyError: c.profile, LatencyErrorAtSetSpeed: c.atSpeed,
			SetSpeeds: []tuner.VerifySet{set}, Calibration: "3"}
		var b strings.Builder
		if err := writeVerify(&b, verifyOutput{VerifyResult: r}); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(b.String(), "calibration 3 was made (run fhetune calibrate again)"); got != c.note {
			t.Errorf("latency error %+.2f, at set speed %+.2f: note %v, want %v\n%s", c.profile, c.atSpeed, got, c.note, b.String())
		}
	}
}
