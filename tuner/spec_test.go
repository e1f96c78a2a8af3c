package tuner_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fhetune/fhetune/search"
	"github.com/fhetune/fhetune/tuner"
)

const fullSpec = `# every field
name: digits-mlp
dataset: digits
model:
  kind: mlp
  hidden: [32, 16]
training:
  epochs: 20
  batch_size: 64
  learning_rate: 0.002
  patience: 5
  fine_tune_epochs: 0
  seed: 7
space:
  n_w_bits: [3, 6]
  n_a_bits: 4
  n_input_bits: [6, 8]
  pruning: {low: 0, high: 0.5, step: 0.1}
  sparsity: [0, 0.3]
  rounding_threshold_bits: [4, 6, off]
  global_p_error: [1e-3, 0.1]
objectives:
  - name: accuracy
  - {name: latency_ms, direction: min}
constraint:
  max_accuracy_drop: 0.02
sampler: {name: nsga2, population: 8}
trials: 24
timeout: 90s
workers: 2
seed: 3
fhe: {security: 128, cores: 4, strategy: mono}
`

func TestParseSpecFull(t *testing.T) {
	s, err := tuner.ParseSpec([]byte(fullSpec), "full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != "digits-mlp" || r.Model.Spec != "mlp:32,16" || r.Model.Kind != "" || r.Trials != 24 ||
		r.Workers != 2 || r.Seed != 3 || time.Duration(r.Timeout) != 90*time.Second {
		t.Fatalf("resolved spec: %+v", r)
	}
	if *r.Training.FineTuneEpochs != 0 || *r.Training.Seed != 7 || *r.Training.Patience != 5 || r.Training.BatchSize != 64 {
		t.Fatalf("training: %+v", r.Training)
	}
	if r.Objectives[0].Direction != "maximize" || r.Objectives[1].Direction != "minimize" {
		t.Fatalf("objectives: %+v", r.Objectives)
	}
	if r.Sampler.Population != 8 || r.Sampler.MutationProb != tuner.DefaultMutationProb || r.Sampler.Eta != tuner.DefaultEta {
		t.Fatalf("sampler: %+v", r.Sampler)
	}
	if r.FHE.Strategy != "mono" || r.FHE.Cores != 4 || *r.Constraint.MaxAccuracyDrop != 0.02 {
		t.Fatalf("fhe/constraint: %+v %+v", r.FHE, r.Constraint)
	}
	if r.Space.PError != nil || r.Space.GlobalPError == nil {
		t.Fatalf("global_p_error given, p_error must stay unset: %+v", r.Space)
	}
	p, err := tuner.NewPlan(s)
	if err != nil {
		t.Fatal(err)
	}
	want := search.Space{Params: []search.Param{
		{Name: "n_w_bits", Kind: search.Int, Low: 3, High: 6},
		{Name: "n_input_bits", Kind: search.Int, Low: 6, High: 8},
		{Name: "pruning", Kind: search.Float, Low: 0, High: 0.5, Step: 0.1},
		{Name: "sparsity", Kind: search.Float, Low: 0, High: 0.3},
		{Name: "rounding_threshold_bits", Kind: search.Int, Low: 4, High: 7}, // 7 means off
		{Name: "rounding_method", Kind: search.Categorical, Choices: []string{"exact", "approximate"}},
		{Name: "global_p_error", Kind: search.LogFloat, Low: 1e-3, High: 0.1},
	}}
	if got := p.Space(); !got.Equal(want) {
		t.Fatalf("space:\n got %v\nwant %v", got.Params, want.Params)
	}
	if f := p.Fixed(); !reflect.DeepEqual(f, map[string]float64{"n_a_bits": 4}) {
		t.Fatalf("fixed knobs: %v", f)
	}
}

func TestSpecDefaults(t *testing.T) {
	r, err := tuner.DefaultSpec().Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != tuner.DefaultStudyName || r.Dataset != "digits" || r.Model.Spec != tuner.DefaultMLPSpec ||
		r.Trials != 60 || r.Workers != 1 || r.Sampler.Name != "parego" || r.Sampler.StartupTrials != tuner.DefaultParEGOStartup || r.Sampler.Sweep != tuner.DefaultSweep || r.FHE.Security != 128 {
		t.Fatalf("default spec: %+v", r)
	}
	sp := r.Space
	for _, c := range []struct {
		name string
		r    *tuner.Range
		want string
	}{
		{"n_w_bits", sp.NWBits, "[2, 8]"}, {"n_a_bits", sp.NABits, "[2, 8]"}, {"pruning", sp.Pruning, "[0, 0.7]"},
		{"sparsity", sp.Sparsity, "0"}, {"rounding_threshold_bits", sp.RoundingThresholdBits, "[3, 8, off]"},
		{"p_error", sp.PError, "[1e-05, 0.1]"},
	} {
		if c.r == nil || c.r.String() != c.want {
			t.Errorf("default %s = %v, want %s", c.name, c.r, c.want)
		}
	}
	if sp.NInputBits == nil || sp.NInputBits.String() != "[2, 8]" || sp.GlobalPError != nil {
		t.Errorf("n_input_bits must be [2, 8] and global_p_error unset: %+v", sp)
	}
	if sp.Training == nil || sp.Training.String() != "[ptq, qat]" || sp.PowerOfTwoScaling == nil || sp.PowerOfTwoScaling.String() != "[false, true]" {
		t.Errorf("the default study searches training [ptq, qat] and power_of_two_scaling [false, true]: %v, %v", sp.Training, sp.PowerOfTwoScaling)
	}
	// A spec that leaves them out searches post-training quantization only.
	plain, err := tuner.Spec{}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if plain.Space.NInputBits != nil || plain.Space.Training != nil {
		t.Errorf("a spec without them: n_input_bits %v, training %v", plain.Space.NInputBits, plain.Space.Training)
	}
	// It does not sweep: a post-training trial costs milliseconds whatever its knobs.
	if plain.Sampler.Sweep != 1 {
		t.Errorf("a post-training spec sweeps %d trials per network, want 1", plain.Sampler.Sweep)
	}
	// Resolving again changes nothing, and the stored JSON form reads back equal.
	again, err := r.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	b1, _ := r.JSON()
	b2, _ := again.JSON()
	if string(b1) != string(b2) {
		t.Fatalf("Resolve is not idempotent:\n%s\n%s", b1, b2)
	}
	back, err := tuner.SpecFromJSON(b1)
	if err != nil {
		t.Fatal(err)
	}
	b3, _ := back.JSON()
	if string(b3) != string(b1) {
		t.Fatalf("JSON round trip:\n%s\n%s", b1, b3)
	}
}

func TestSpecBadInput(t *testing.T) {
	for _, c := range []struct {
		name, yaml string
		line       int
		want       string
	}{
		{"malformed", "name: x\nspace:\n  n_w_bits: [2, 8\n", 3, "did not find expected ',' or ']'"},
		{"malformed key", "name: x\nspace:\n  n_w_bits: [2, 8]\n bad\n", 4, "did not find expected key"},
		{"tab", "name: x\n\tdataset: digits\n", 2, "tab character"},
		{"unknown key", "name: x\nsapce:\n  n_w_bits: [2, 8]\n", 2, `unknown key "sapce"`},
		{"unknown nested key", "space:\n  n_w_bit: [2, 8]\n", 2, `unknown key "n_w_bit"`},
		{"unknown sampler key", "sampler: {name: nsga2, populaton: 3}\n", 1, `unknown key "populaton"`},
		{"type", "trials: many\n", 1, "cannot unmarshal"},
		{"duplicate key", "trials: 3\ntrials: 4\n", 2, "already defined"},
		{"empty range", "space:\n  n_w_bits: []\n", 2, "space.n_w_bits: empty range"},
		{"low above high", "space:\n  pruning: [0.5, 0.2]\n", 2, "space.pruning: [0.5, 0.2]: low above high"},
		{"range with 3 items", "space:\n  n_a_bits: [2, 4, 6]\n", 2, "want [low, high]"},
		{"non-integer bits", "space:\n  n_a_bits: [2.5, 4]\n", 2, "whole numbers"},
		{"bits too wide", "space:\n  n_w_bits: [2, 17]\n", 2, "1..16"},
		{"off on a share", "space:\n  pruning: off\n", 2, "only rounding_threshold_bits can be off"},
		{"pruning 1", "space:\n  pruning: [0, 1]\n", 2, "[0, 1)"},
		{"p_error 0", "space:\n  p_error: [0, 0.1]\n", 2, "(0, 1)"},
		{"both p_errors", "space:\n  p_error: 1e-3\n  global_p_error: 1e-2\n", 3, "not both"},
		{"bad number", "space:\n  p_error: [1e-5, lots]\n", 2, `"lots" is not a finite number`},
		{"unknown objective", "objectives:\n  - name: speed\n", 2, `unknown objective "speed"`},
		{"bad direction", "objectives:\n  - {name: accuracy, direction: up}\n", 2, "want maximize or minimize"},
		{"unknown sampler", "sampler: cmaes\n", 1, `unknown sampler "cmaes"`},
		{"tpe needs an objective", "sampler: tpe\n", 1, "tpe optimizes one objective"},
		{"sweep 0", "sampler: {name: nsga2, sweep: -1}\n", 1, "sampler.sweep: -1: want 1 (no sweep) to 1000"},
		{"grid sweep", "sampler: {name: grid, sweep: 3}\n", 1, "sampler.sweep: 3: grid search"},
		{"negative trials", "trials: -3\n", 1, "trials: -3"},
		{"workers", "workers: 1000\n", 1, "workers: 1000"},
		{"bad timeout", "timeout: soon\n", 1, "want a duration"},
		{"security", "fhe: {security: 80}\n", 1, "fhe.security: 80 bits"},
		{"strategy", "fhe:\n  strategy: best\n", 2, `fhe.strategy: "best"`},
		{"cost", "fhe:\n  cost: fast\n", 2, `fhe.cost: "fast": want ms or complexity`},
		{"unknown data set", "dataset: mnist\n", 1, `unknown data set "mnist"`},
		{"model file and spec", "model: {file: m.fhtm, spec: mlp}\n", 1, "not both"},
		{"bad model spec", "model: {spec: \"mlp:0\"}\n", 1, "model.spec"},
		{"two documents", "name: a\n---\nname: b\n", 2, "one YAML document"},
		{"drop", "constraint: {max_accuracy_drop: 2}\n", 1, "constraint.max_accuracy_drop"},
		{"unknown training", "space:\n  training: fp8\n", 2, `unknown training "fp8"`},
		{"training twice", "space:\n  training: [qat, QAT]\n", 2, "a value is given twice"},
		{"qat_epochs 0", "space:\n  training: qat\n  qat_epochs: [0, 5]\n", 3, "qat_epochs must lie in 1.."},
		{"n_accum_bits without qat", "space:\n  n_accum_bits: 8\n", 2, "needs training qat"},
		{"n_accum_bits 1", "space:\n  training: [ptq, qat]\n  n_accum_bits: 1\n", 3, "n_accum_bits must lie in 2..62"},
		{"power_of_two_scaling", "space:\n  training: qat\n  power_of_two_scaling: maybe\n", 3, `unknown power_of_two_scaling "maybe"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := tuner.ParseSpec([]byte(c.yaml), "bad.yaml")
			if err == nil {
				_, err = tuner.NewPlan(s)
			}
			var se *tuner.SpecError
			if !errors.As(err, &se) || !errors.Is(err, tuner.ErrStudySpec) {
				t.Fatalf("error %v (%T), want a *SpecError", err, err)
			}
			msg := err.Error()
			if se.Line != c.line || !strings.Contains(msg, c.want) || !strings.HasPrefix(msg, "tuner: spec bad.yaml: line ") ||
				strings.Contains(msg, "\n") {
				t.Fatalf("error %q (line %d), want line %d and %q", msg, se.Line, c.line, c.want)
			}
		})
	}
}

func TestSpecDataErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		spec tuner.Spec
		want string
	}{
		{"missing csv", tuner.Spec{Dataset: "csv:" + filepath.Join(dir, "none.csv")}, "none.csv"},
		{"missing model file", tuner.Spec{Model: tuner.ModelSpec{File: filepath.Join(dir, "none.fhtm")}}, "none.fhtm"},
		{"model file of another kind", tuner.Spec{Model: tuner.ModelSpec{File: writeFile(t, dir, "junk.fhtm", "not a model")}}, "junk.fhtm"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := tuner.NewPlan(c.spec)
			if !errors.Is(err, tuner.ErrStudyData) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want ErrStudyData naming %s", err, c.want)
			}
		})
	}
	// A model trained on digits does not fit breast-cancer.
	path := filepath.Join(dir, "digits.fhtm")
	saveBaseModel(t, path)
	_, err := tuner.NewPlan(tuner.Spec{Dataset: "breast-cancer", Model: tuner.ModelSpec{File: path}})
	if !errors.Is(err, tuner.ErrStudyData) || !strings.Contains(err.Error(), "64 features and 10 classes") {
		t.Fatalf("mismatched model file: %v", err)
	}
}

func TestParseRange(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
	}{
		{"6", "6"}, {"2,8", "[2, 8]"}, {"[2, 8]", "[2, 8]"}, {"3,8,off", "[3, 8, off]"}, {"off", "off"},
		{"{low: 0, high: 0.5, step: 0.1}", "[0, 0.5] step 0.1"}, {"1e-5, 0.1", "[1e-05, 0.1]"},
	} {
		r, err := tuner.ParseRange(c.in)
		if err != nil || r.String() != c.want {
			t.Errorf("ParseRange(%q) = %v, %v; want %s", c.in, r, err, c.want)
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back tuner.Range
		if err := json.Unmarshal(b, &back); err != nil || back.String() != c.want {
			t.Errorf("JSON %s of %q reads back as %v, %v", b, c.in, back, err)
		}
	}
	for _, bad := range []string{"", "a,b", "[1, 2, 3, 4]", "{low: 1}", "{low: 1, high: 2, size: 3}"} {
		if _, err := tuner.ParseRange(bad); err == nil {
			t.Errorf("ParseRange(%q) succeeded", bad)
		}
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
