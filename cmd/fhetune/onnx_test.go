package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// onnxFixtures is the folder of the ONNX files PyTorch exported (tuner/onnx/testdata).
var onnxFixtures = filepath.Join("..", "..", "tuner", "onnx", "testdata")

// TestONNXNetworkFlow is the "done when" on a network PyTorch trained: predict,
// eval and a study on the ONNX file with NumPy data, then export of a tuned trial as
// ONNX that predicts as the trial's network does.
func TestONNXNetworkFlow(t *testing.T) {
	dir := t.TempDir()
	net := filepath.Join(onnxFixtures, "digits_mlp.onnx")
	data := "npz:" + filepath.Join(onnxFixtures, "digits.npz")
	predict := func(file string) predictOutput {
		t.Helper()
		code, out, errs := modelRun(t, "model", "predict", "--model-file", file, "--dataset", data, "--json")
		if code != 0 {
			t.Fatalf("predict %s: exit %d: %s", file, code, errs)
		}
		var p predictOutput
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := predict(net)
	if p.Samples != len(p.Rows) || p.Samples < 100 || p.Accuracy < 0.85 || len(p.Rows[0].Logits) != 10 || p.Split != "test" {
		t.Errorf("predict: %d samples, accuracy %.4f, %d logits", p.Samples, p.Accuracy, len(p.Rows[0].Logits))
	}

	code, out, errs := modelRun(t, "eval", "--model-file", net, "--dataset", data, "--n-w-bits", "4", "--n-a-bits", "4",
		"--rounding-threshold-bits", "6", "--p-error", "0.01", "--fine-tune-epochs", "0", "--json")
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, errs)
	}
	var ev struct {
		Accuracy      float64 `json:"accuracy"`
		FloatAccuracy float64 `json:"float_accuracy"`
		TLUCount      int     `json:"tlu_count"`
	}
	if err := json.Unmarshal([]byte(out), &ev); err != nil {
		t.Fatal(err)
	}
	if math.Abs(ev.FloatAccuracy-p.Accuracy) > 1e-12 || ev.Accuracy < 0.8 || ev.TLUCount != 64 {
		t.Errorf("eval: %+v (predict accuracy %.4f)", ev, p.Accuracy)
	}
	// Quantization-aware training works on the imported network too: at 3 bits it keeps
	// the accuracy post-training quantization loses (0.92 against 0.77 on this split).
	code, out, errs = modelRun(t, "eval", "--model-file", net, "--dataset", data, "--n-w-bits", "3", "--n-a-bits", "3",
		"--n-input-bits", "3", "--training", "qat", "--p-error", "0.001", "--fine-tune-epochs", "0", "--json")
	if code != 0 {
		t.Fatalf("eval --training qat: exit %d: %s", code, errs)
	}
	var qat struct {
		Accuracy float64 `json:"accuracy"`
	}
	if err := json.Unmarshal([]byte(out), &qat); err != nil {
		t.Fatal(err)
	}
	if qat.Accuracy < 0.85 {
		t.Errorf("eval --training qat of the ONNX network: accuracy %.4f", qat.Accuracy)
	}

	spec := filepath.Join(dir, "spec.yaml")
	db := filepath.Join(dir, "s.db")
	yaml := "name: onnx\ndataset: " + data + "\nmodel:\n  file: " + net + "\ntrials: 4\nsampler: random\n"
	if err := os.WriteFile(spec, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := modelRun(t, "--db", db, "study", "start", "--spec", spec); code != 0 {
		t.Fatalf("study start: exit %d: %s", code, errs)
	}
	out1 := filepath.Join(dir, "trial.onnx")
	if code, _, errs := modelRun(t, "--db", db, "model", "export", "--study", "onnx", "--trial", "1", "--out", out1); code != 0 {
		t.Fatalf("export: exit %d: %s", code, errs)
	}
	q := predict(out1)
	if q.Samples != p.Samples || q.Accuracy < 0.5 {
		t.Errorf("exported trial network: %d samples, accuracy %.4f", q.Samples, q.Accuracy)
	}
	// Exporting the exported file again gives the same predictions and logits (up to
	// float32 rounding, which the first export already applied).
	out2 := filepath.Join(dir, "again.onnx")
	if code, _, errs := modelRun(t, "model", "export", out1, "--out", out2); code != 0 {
		t.Fatalf("re-export: exit %d: %s", code, errs)
	}
	r := predict(out2)
	for i := range q.Rows {
		if q.Rows[i].Predicted != r.Rows[i].Predicted {
			t.Fatalf("row %d: %d before re-export, %d after", i, q.Rows[i].Predicted, r.Rows[i].Predicted)
		}
		for k := range q.Rows[i].Logits {
			if math.Abs(q.Rows[i].Logits[k]-r.Rows[i].Logits[k]) > 1e-5 {
				t.Fatalf("row %d logit %d: %g, %g", i, k, q.Rows[i].Logits[k], r.Rows[i].Logits[k])
			}
		}
	}
}

// TestONNXBadInput checks the one-line errors and exit code 2 of ONNX inputs and the
// new flags; nothing is written.
func TestONNXBadInput(t *testing.T) {
	dir := t.TempDir()
	data := "npz:" + filepath.Join(onnxFixtures, "digits.npz")
	garbage := filepath.Join(dir, "garbage.onnx")
	if err := os.WriteFile(garbage, []byte("\x0a\xff\xff\xff\xff"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.onnx")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"model", "predict", "--model-file", filepath.Join(onnxFixtures, "unsupported.onnx"), "--dataset", data}, `(Cos): operator Cos is not supported`},
		{[]string{"model", "predict", "--model-file", garbage, "--dataset", data}, "garbage.onnx: byte 0: not an ONNX model"},
		{[]string{"model", "predict", "--model-file", filepath.Join(onnxFixtures, "digits_mlp.onnx"), "--dataset", data, "--split", "train"}, `--split "train": want test or all`},
		{[]string{"model", "predict", "--model-file", filepath.Join(onnxFixtures, "digits_mlp.onnx"), "--dataset", data, "--standardize"}, "standardizes its inputs already"},
		{[]string{"model", "predict", "--model-file", filepath.Join(onnxFixtures, "mlp.onnx"), "--dataset", "breast-cancer"}, "takes 64 features and 10 classes"},
		{[]string{"model", "export", filepath.Join(onnxFixtures, "mlp.onnx"), "--format", "pt", "--out", out}, `--format "pt"`},
		{[]string{"model", "export", "--out", out}, "give a model FILE or --study NAME --trial K"},
		{[]string{"eval", "--dataset", data, "--standardize"}, "--standardize applies to a --model-file network"},
	} {
		code, stdout, errs := modelRun(t, c.args...)
		if code != 2 || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") > 0 || stdout != "" {
			t.Errorf("%v: exit %d, stderr %q, want exit 2 and one line containing %q", c.args, code, errs, c.want)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("an output file was written: %v", err)
	}
}
