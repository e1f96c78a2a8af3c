package tuner_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/studies"
	"github.com/fhetune/fhetune/tuner"
)

func TestTrialResult(t *testing.T) {
	set := fhe.ParamsLiteral{GLWERank: 2, LogPolyDegree: 10, LWEDimension: 752, BRLevel: 2, BRLogBase: 15, KSLevel: 5, KSLogBase: 3}
	res := tuner.Result{Accuracy: 0.88, LatencyMS: 1108, PBSCount: 116, MaxTLUBits: 4, Layers: []tuner.LayerResult{
		{Name: "fc1", TLUCount: 58, TLUBits: 4, Params: &set, PBSMS: 19.06, BootstrapMS: 553.2, LevelledMS: 0.8, LayerMS: 554},
		{Name: "fc2", LevelledMS: 0.1, LayerMS: 0.1},
	}}
	// Run stores the result with the constraint values and the objective's time beside it.
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["constraints"], m["eval_ms"] = []float64{-0.02}, 35.5
	attrs, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		attrs   json.RawMessage
		ok      bool
		wantErr bool
	}{
		{"stored by Run", attrs, true, false},
		{"no attributes", nil, false, false},
		{"null", json.RawMessage("null"), false, false},
		{"not a result", json.RawMessage(`{"layers": 3}`), false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok, err := tuner.TrialResult(studies.Trial{Number: 7, State: studies.Complete, Attrs: tc.attrs})
			if (err != nil) != tc.wantErr || ok != tc.ok {
				t.Fatalf("TrialResult = ok %v, err %v; want ok %v, error %v", ok, err, tc.ok, tc.wantErr)
			}
			if !tc.ok {
				return
			}
			if got.Accuracy != 0.88 || got.LatencyMS != 1108 || got.PBSCount != 116 || got.MaxTLUBits != 4 || len(got.Layers) != 2 {
				t.Fatalf("TrialResult = %+v, want the stored result", got)
			}
			l := got.Layers[0]
			if l.Params == nil || *l.Params != set || l.BootstrapMS != 553.2 || l.LayerMS != 554 || got.Layers[1].Params != nil {
				t.Errorf("layers = %+v, %+v; want fc1 with its set and times, fc2 without a set", l, got.Layers[1])
			}
		})
	}
}

func TestSearchedKnobs(t *testing.T) {
	parse := func(yaml string) tuner.Spec {
		t.Helper()
		s, err := tuner.ParseSpec([]byte(yaml), "spec.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if s, err = s.Resolve(); err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name string
		spec tuner.Spec
		want []string
	}{
		// The default space fixes sparsity at 0 and lets n_input_bits follow n_a_bits.
		{"default", parse("name: d\n"), []string{"n_w_bits", "n_a_bits", "pruning", "rounding_threshold_bits", "rounding_method", "p_error"}},
		{"fixed and off", parse("name: d\nspace: {n_w_bits: 4, n_input_bits: [4, 8], rounding_threshold_bits: off, sparsity: [0, 0.5]}\n"),
			[]string{"n_a_bits", "n_input_bits", "pruning", "sparsity", "p_error"}},
		{"rounding or off", parse("name: d\nspace: {pruning: 0, rounding_threshold_bits: [6, 6, off], global_p_error: [1e-3, 0.1]}\n"),
			[]string{"n_w_bits", "n_a_bits", "rounding_threshold_bits", "rounding_method", "global_p_error"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tuner.SearchedKnobs(tc.spec); !slices.Equal(got, tc.want) {
				t.Errorf("SearchedKnobs = %v, want %v", got, tc.want)
			}
		})
	}
}
