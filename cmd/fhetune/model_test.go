package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/tuner/model"
)

// modelRun runs fhetune with args and returns the exit code, stdout and stderr.
func modelRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestModelTrainDigits is the "done when": the digits MLP reports at least 95%
// test accuracy, and model info describes the file it wrote.
func TestModelTrainDigits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.bin")
	code, out, errs := modelRun(t, "model", "train", "--dataset", "digits", "--model", "mlp:64,64", "--out", path, "--json")
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	var r modelTrainResult
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("stdout is not the JSON result: %v\n%s", err, out)
	}
	if r.TestAccuracy < 0.95 {
		t.Errorf("test accuracy %.4f < 0.95", r.TestAccuracy)
	}
	if r.Dataset != "digits" || r.Model != "mlp:64,64" || r.Params != 64*64+64+64*64+64+64*10+10 || r.Out != path ||
		r.EpochsRun < r.BestEpoch || r.BestEpoch < 1 || !(r.TrainSeconds > 0) ||
		r.TrainSamples+r.ValSamples+r.TestSamples != 1797 || r.Seed != 1 {
		t.Errorf("result %+v", r)
	}
	if !strings.Contains(errs, "epoch 1/100: train loss") {
		t.Errorf("no progress on stderr: %q", errs)
	}

	code, out, errs = modelRun(t, "model", "info", path, "--json")
	if code != 0 {
		t.Fatalf("info: exit %d, stderr %s", code, errs)
	}
	var info modelInfo
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("info stdout is not JSON: %v\n%s", err, out)
	}
	if info.FormatVersion != model.FormatVersion || info.Format != "fhetune" || info.Spec != "mlp:64,64" || info.Dataset != "digits" || !info.Standardizer ||
		info.Params != r.Params || info.Classes != 10 || len(info.Layers) != 6 || info.Sparsity != 0 ||
		info.Meta["test_accuracy"] == "" || info.Meta["seed"] != "1" {
		t.Errorf("info %+v", info)
	}
	if l := info.Layers[1]; l.Kind != "linear" || l.Params != 64*64+64 || l.InShape[0] != 64 || l.OutShape[0] != 64 {
		t.Errorf("layer 1 %+v", l)
	}

	code, out, _ = modelRun(t, "model", "info", path)
	for _, want := range []string{fmt.Sprintf("fhetune model file version %d", model.FormatVersion), "spec mlp:64,64, data set digits, input 1×8×8, 10 classes, standardizer yes",
		"flatten  1×8×8", "linear", "test_accuracy:"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("info text (exit %d) lacks %q:\n%s", code, want, out)
		}
	}
}

func TestModelTrainCNNText(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.bin")
	code, out, errs := modelRun(t, "model", "train", "--dataset", "digits", "--model", "cnn:c4k3p1,pool2,fc16",
		"--epochs", "2", "--seed", "3", "--out", path)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	for _, want := range []string{"trained cnn:c4k3p1,pool2,fc16 on digits:", "2 epochs", "accuracy: train", "saved " + path} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = modelRun(t, "model", "info", path, "--json")
	var info modelInfo
	if code != 0 || json.Unmarshal([]byte(out), &info) != nil {
		t.Fatalf("info: exit %d\n%s", code, out)
	}
	if l := info.Layers[0]; l.Kind != "conv2d" || l.Kernel[0] != 3 || l.Pad != 1 || l.Stride != 1 || l.OutShape[0] != 4 {
		t.Errorf("conv layer %+v", l)
	}
}

func TestModelBadInput(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "m.bin")
	corrupt := filepath.Join(dir, "corrupt.bin")
	if err := os.WriteFile(corrupt, []byte("FHTMODEL\x01\x00\x00\x00garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	train := []string{"model", "train", "--dataset", "digits", "--model", "mlp:8", "--out", out}
	with := func(extra ...string) []string { return append(append([]string(nil), train...), extra...) }
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no dataset", []string{"model", "train", "--model", "mlp:8", "--out", out}, "--dataset is required"},
		{"no model", []string{"model", "train", "--dataset", "digits", "--out", out}, "--model is required"},
		{"no out", []string{"model", "train", "--dataset", "digits", "--model", "mlp:8"}, "--out is required"},
		{"zero epochs", with("--epochs", "0"), "--epochs 0: want at least 1"},
		{"bad lr", with("--lr", "-1"), "--lr -1: want a finite value > 0"},
		{"bad val frac", with("--val-frac", "1"), "--val-frac 1: want a value in (0, 1)"},
		{"bad spec", with("--model", "cnn:c8k3,max2"), `--model: model: spec "cnn:c8k3,max2": token 2 "max2": want`},
		{"unknown data set", with("--dataset", "mnist"), `--dataset mnist: dataset: unknown data set: "mnist"`},
		{"cnn on tabular", with("--dataset", "breast-cancer", "--model", "cnn:c4k3"), "a cnn needs image inputs of shape [C H W], the data have shape [30]"},
		{"kernel too big", with("--model", "cnn:c4k9"), "kernel 9 does not fit the 8x8 input"},
		{"fashion missing", with("--dataset", "fashion-mnist", "--data-dir", dir), "dataset-fashion-mnist"},
		{"csv missing", with("--dataset", "csv:"+filepath.Join(dir, "none.csv")), "none.csv"},
		{"out folder missing", with("--out", filepath.Join(dir, "no", "m.bin")), "--out " + filepath.Join(dir, "no", "m.bin") + ": folder"},
		{"out is a folder", with("--out", dir), "is a folder"},
		{"unknown flag", with("--epoch", "3"), "unknown flag: --epoch"},
		{"stray argument", with("extra"), "unknown command"},
		{"info no file", []string{"model", "info"}, "accepts 1 arg"},
		{"info missing file", []string{"model", "info", filepath.Join(dir, "none.bin")}, "none.bin: no such file"},
		{"info corrupt file", []string{"model", "info", corrupt}, corrupt + ": byte"},
		{"unknown subcommand", []string{"model", "prune"}, `unknown command "prune" for "fhetune model"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, errs := modelRun(t, tc.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2 (stderr %q)", code, errs)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if !strings.HasPrefix(errs, "fhetune: ") || !strings.Contains(errs, tc.want) {
				t.Errorf("stderr %q lacks %q", errs, tc.want)
			}
		})
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("bad input left files behind: %d entries in %s", len(entries), dir)
	}
}
