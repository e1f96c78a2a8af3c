package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// evalCLI runs fhetune with a fresh model cache and a --db that does not exist.
func evalCLI(t *testing.T, cache string, args ...string) (int, string, string) {
	t.Helper()
	t.Setenv("XDG_CACHE_HOME", cache)
	db := filepath.Join(t.TempDir(), "none.db")
	code, out, errs := runCLI(t, append([]string{"--db", db}, args...)...)
	if _, err := os.Stat(db); err == nil {
		t.Errorf("eval created the database %s", db)
	}
	return code, out, errs
}

var evalKnobs = []string{"--n-w-bits", "4", "--n-a-bits", "4", "--pruning", "0.3", "--rounding-threshold-bits", "6", "--p-error", "0.01"}

func TestEvalDigitsJSON(t *testing.T) {
	cache := t.TempDir()
	args := append([]string{"eval", "--dataset", "digits", "--model", "mlp", "--json"}, evalKnobs...)
	code, out, errs := evalCLI(t, cache, args...)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	if !strings.Contains(errs, "training mlp:64,64 on digits") {
		t.Errorf("stderr %q does not say it trains the model", errs)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, out)
	}
	for _, k := range []string{"accuracy", "float_accuracy", "quantized_accuracy", "latency_ms", "pbs_count", "tlu_count", "max_tlu_bits", "calibration", "layers", "global_p_error_actual"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	var r evalOutput
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	// 90 TLUs of 6 bits from 10-bit accumulators: exact rounding adds 4 extractions each.
	if r.TLUCount != 90 || r.PBSCount != 450 || r.MaxTLUBits != 6 || len(r.Layers) != 3 || r.Calibration != "default" || r.Model != "mlp:64,64" ||
		!(r.Accuracy > 0.8) || !(r.FloatAccuracy > 0.9) || !(r.LatencyMS > 0) {
		t.Errorf("result %+v", r)
	}
	var layers []map[string]json.RawMessage
	if err := json.Unmarshal(m["layers"], &layers); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"name", "tlu_count", "pbs_count", "accumulator_bits", "tlu_bits", "log2_norm2", "params", "pbs_ms",
		"tlu_ms", "rounding_ms", "keyswitch_between_keys_ms", "layer_ms"} {
		if _, ok := layers[0][k]; !ok {
			t.Errorf("layer JSON lacks %q", k)
		}
	}
	var set map[string]int
	if err := json.Unmarshal(layers[0]["params"], &set); err != nil || set["lwe_dimension"] < 512 || set["log2_polynomial_size"] < 8 {
		t.Errorf("layer params %s: %v", layers[0]["params"], err)
	}
	files, _ := filepath.Glob(filepath.Join(cache, "fhetune", "models", "digits_mlp_64,64_seed1_*.fhtm"))
	if len(files) != 1 || r.ModelFile != files[0] {
		t.Errorf("cached models %v, result names %q", files, r.ModelFile)
	}
	// Again: the cached model, the same answer.
	code, out2, errs := evalCLI(t, cache, args...)
	if code != 0 || strings.Contains(errs, "training") || out2 != out {
		t.Errorf("second run: exit %d, stderr %q, same output %v", code, errs, out2 == out)
	}
}

func TestEvalHumanOutput(t *testing.T) {
	code, out, errs := evalCLI(t, t.TempDir(), append([]string{"eval", "--dataset", "digits", "--strategy", "mono", "--cores", "1"}, evalKnobs...)...)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	for _, want := range []string{"accuracy", "quantized accuracy", "float accuracy", "latency", "on 1 cores", "mono-parameter",
		"layer", "crypto set", "fc1", "fc2", "fc3", "(output)", "rounding ms", "90 TLUs, 360 rounding extractions", "total"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestEvalModelFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "m.fhtm")
	if code, _, errs := runCLI(t, "model", "train", "--dataset", "digits", "--model", "mlp:16", "--out", file, "--epochs", "5"); code != 0 {
		t.Fatalf("train: exit %d, %s", code, errs)
	}
	code, out, errs := evalCLI(t, t.TempDir(), "eval", "--dataset", "digits", "--model-file", file, "--n-w-bits", "3", "--n-a-bits", "3",
		"--global-p-error", "0.01", "--json")
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	var r evalOutput
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Model != "mlp:16" || r.ModelFile != file || r.PBSCount != 16 || !(r.GlobalPError <= 0.01) {
		t.Errorf("result %+v", r)
	}
	code, _, errs = evalCLI(t, t.TempDir(), "eval", "--dataset", "breast-cancer", "--model-file", file)
	if code != 2 || !strings.Contains(errs, "trained on digits") {
		t.Errorf("wrong data set: exit %d, %s", code, errs)
	}
}

func TestEvalBadInput(t *testing.T) {
	cache := t.TempDir()
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"no dataset", []string{}, []string{"--dataset is required"}},
		{"unknown dataset", []string{"--dataset", "mnist9"}, []string{"mnist9"}},
		{"w bits 0", []string{"--dataset", "digits", "--n-w-bits", "0"}, []string{"--n-w-bits 0 outside 1..16"}},
		{"a bits 17", []string{"--dataset", "digits", "--n-a-bits", "17"}, []string{"--n-a-bits 17"}},
		{"rounding 0 bits", []string{"--dataset", "digits", "--rounding-threshold-bits", "-2"}, []string{"--rounding-threshold-bits -2"}},
		{"rounding 9 bits", []string{"--dataset", "digits", "--rounding-threshold-bits", "9"}, []string{"--rounding-threshold-bits 9 outside 2..8"}},
		{"rounding 1 bit", []string{"--dataset", "digits", "--rounding-threshold-bits", "1"}, []string{"--rounding-threshold-bits 1 outside 2..8"}},
		{"rounding method", []string{"--dataset", "digits", "--rounding-threshold-bits", "6", "--rounding-method", "fast"}, []string{`--rounding-method "fast"`}},
		{"p_error 1.5", []string{"--dataset", "digits", "--p-error", "1.5"}, []string{"--p-error 1.5 outside (0, 1)"}},
		{"both", []string{"--dataset", "digits", "--p-error", "0.1", "--global-p-error", "0.1"}, []string{"both"}},
		{"pruning", []string{"--dataset", "digits", "--pruning", "1"}, []string{"--pruning 1"}},
		{"strategy", []string{"--dataset", "digits", "--strategy", "duo"}, []string{`"duo"`}},
		{"cost", []string{"--dataset", "digits", "--cost", "seconds"}, []string{`--cost "seconds"`, "want ms or complexity"}},
		{"spec", []string{"--dataset", "digits", "--model", "rnn:4"}, []string{"--model"}},
		{"model and file", []string{"--dataset", "digits", "--model", "mlp", "--model-file", "x"}, []string{"both"}},
		{"missing file", []string{"--dataset", "digits", "--model-file", filepath.Join(cache, "nope.fhtm")}, []string{"nope.fhtm"}},
		{"too wide", []string{"--dataset", "digits", "--n-w-bits", "8", "--n-a-bits", "8"}, []string{"layer fc1", "rounding_threshold_bits"}},
		{"security", []string{"--dataset", "digits", "--security", "99"}, []string{"security"}},
		{"training", []string{"--dataset", "digits", "--training", "int8"}, []string{`--training "int8"`}},
		{"qat epochs 0", []string{"--dataset", "digits", "--training", "qat", "--qat-epochs", "0"}, []string{"--qat-epochs 0 below 1"}},
		{"qat epochs without qat", []string{"--dataset", "digits", "--qat-epochs", "3"}, []string{"--qat-epochs needs --training qat"}},
		{"accum bits too few", []string{"--dataset", "digits", "--training", "qat", "--n-w-bits", "4", "--n-a-bits", "4", "--n-accum-bits", "6"},
			[]string{"n_accum_bits 6 is too small", "needs up to 8 bits"}},
		{"accum bits without qat", []string{"--dataset", "digits", "--n-accum-bits", "8"}, []string{"--n-accum-bits needs --training qat"}},
		{"power of two without qat", []string{"--dataset", "digits", "--power-of-two-scaling"}, []string{"--power-of-two-scaling needs --training qat"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := evalCLI(t, cache, append([]string{"eval"}, tc.args...)...)
			if code != 2 || out != "" || strings.Count(errs, "\n") < 1 {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
			}
			last := errs[strings.LastIndex(strings.TrimSuffix(errs, "\n"), "\n")+1:]
			if !strings.HasPrefix(last, "fhetune: ") || !slices.ContainsFunc(tc.want, func(w string) bool { return strings.Contains(last, w) }) {
				t.Errorf("error %q, want %q", last, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(last, w) {
					t.Errorf("error %q lacks %q", last, w)
				}
			}
		})
	}
}
