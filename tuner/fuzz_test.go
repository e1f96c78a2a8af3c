package tuner_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/tuner"
)

// FuzzParseSpec feeds arbitrary YAML to the spec parser and resolver: they must never
// panic, and refuse what they refuse with one line wrapping ErrStudySpec.
func FuzzParseSpec(f *testing.F) {
	for _, seed := range []string{
		"",
		"name: x\n",
		"space:\n  n_w_bits: [2, 8]\n  rounding_threshold_bits: [3, 8, off]\n  rounding_method: [exact, approximate]\n",
		"space:\n  rounding_threshold_bits: {n_bits: [3, 8], method: approximate}\n",
		"space:\n  training: [ptq, qat]\n  qat_epochs: [2, 10]\n  n_accum_bits: [8, 16]\n  power_of_two_scaling: [false, true]\n",
		"space:\n  training: qat\n  power_of_two_scaling: true\n",
		"space:\n  n_accum_bits: 8\n",
		"sampler: {name: nsga2, population: 12}\nobjectives:\n  - {name: accuracy, direction: maximize}\n",
		"constraint: {max_accuracy_drop: 0.01}\ntrials: 60\nseed: 3\nfhe: {security: 128, strategy: mono}\n",
		"space:\n  training: [qat, qat]\n",
		"space: [1, 2]\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, yaml string) {
		s, err := tuner.ParseSpec([]byte(yaml), "fuzz.yaml")
		if err == nil {
			s.Dataset = "digits" // no files or downloads: the data set is built in
			s.Model = tuner.ModelSpec{Spec: "mlp:4"}
			_, err = tuner.NewPlan(s)
		}
		if err == nil {
			return
		}
		if !errors.Is(err, tuner.ErrStudySpec) {
			return // a plan may also refuse the data or the model, with other errors
		}
		if strings.Contains(err.Error(), "\n") {
			t.Fatalf("a spec error spans lines: %q", err)
		}
	})
}
