package tuner_test

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/search"
	"github.com/fhetune/fhetune/studies"
	"github.com/fhetune/fhetune/tuner"
	"github.com/fhetune/fhetune/tuner/model"
)

var accLat = []studies.Objective{{Name: "accuracy", Direction: studies.Maximize}, {Name: "latency_ms", Direction: studies.Minimize}}

func complete(n int, acc, lat float64) studies.Trial {
	return studies.Trial{Number: n, State: studies.Complete, Values: []float64{acc, lat}, RetryOf: -1}
}

func TestBest(t *testing.T) {
	trials := []studies.Trial{
		complete(0, 0.95, 900), complete(1, 0.94, 400), complete(2, 0.90, 100), complete(3, 0.945, 400),
		complete(4, 0.80, 50), {Number: 5, State: studies.Fail}, complete(6, 0.94, 400),
	}
	f := func(v float64) *float64 { return &v }
	for _, c := range []struct {
		name string
		rule tuner.Rule
		want int
		text string
	}{
		{"within 1%", tuner.Rule{MaxAccuracyDrop: f(0.01)}, 3, "fastest trial within 1% of float accuracy"},
		{"within 6%", tuner.Rule{MaxAccuracyDrop: f(0.06)}, 2, "fastest trial within 6% of float accuracy"},
		{"within 0.5%", tuner.Rule{MaxAccuracyDrop: f(0.005)}, 0, "fastest trial within 0.5% of float accuracy"},
		{"under 500 ms", tuner.Rule{MaxLatencyMS: f(500)}, 3, "most accurate trial within 500 ms"},
		{"under 60 ms", tuner.Rule{MaxLatencyMS: f(60)}, 4, "most accurate trial within 60 ms"},
		{"both", tuner.Rule{MaxAccuracyDrop: f(0.06), MaxLatencyMS: f(90)}, -1, ""},
		{"none", tuner.Rule{}, 0, "most accurate trial"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := tuner.Best(trials, accLat, 0.954, c.rule)
			if c.want < 0 {
				if !errors.Is(err, tuner.ErrNoPick) || !strings.Contains(err.Error(), "closest: trial 4") {
					t.Fatalf("want ErrNoPick naming the closest trial, got %v (trial %d)", err, got.Number)
				}
				return
			}
			if err != nil || got.Number != c.want || c.rule.String() != c.text {
				t.Fatalf("Best = trial %d, %v, rule %q; want trial %d, %q", got.Number, err, c.rule, c.want, c.text)
			}
		})
	}
	// A drop equal to the bound meets it, whatever the rounding of 0.955 − 0.945.
	if got, err := tuner.Best(trials, accLat, 0.955, tuner.Rule{MaxAccuracyDrop: f(0.01)}); err != nil || got.Number != 3 {
		t.Fatalf("drop at the bound: trial %d, %v", got.Number, err)
	}
	if _, err := tuner.Best(trials, accLat[:1], 0.9, tuner.Rule{}); !errors.Is(err, tuner.ErrNoPick) {
		t.Fatalf("a study without latency_ms: %v", err)
	}
	if _, err := tuner.Best(nil, accLat, 0.9, tuner.Rule{}); !errors.Is(err, tuner.ErrNoPick) {
		t.Fatalf("no trials: %v", err)
	}
	picks := tuner.DefaultPicks(tuner.Spec{}, trials, accLat, 0.954)
	var got []int
	for _, p := range picks {
		got = append(got, p.Trial.Number)
	}
	if !reflect.DeepEqual(got, []int{3, 0}) || picks[0].Label != "fastest trial within 1% of float accuracy" {
		t.Fatalf("default picks %v: %+v", got, picks)
	}
}

func TestHypervolume(t *testing.T) {
	dirs := []search.Direction{search.Maximize, search.Minimize}
	names := []string{"accuracy", "latency_ms"}
	if hv := tuner.Hypervolume(nil, dirs, names); hv != 0 {
		t.Fatalf("no points: %v", hv)
	}
	if hv := tuner.Hypervolume([][]float64{{0.9, 100}}, dirs, names); hv != 0 {
		t.Fatalf("one point: %v", hv)
	}
	// (0.9, 10 ms) and (1.0, 100 ms): accuracy range 0.1, log10 latency range 1, so the
	// reference point is (0.9 − 0.01, 2 + 0.1). The boxes 0.01 × 1.1 and 0.11 × 0.1
	// overlap in 0.01 × 0.1: the union is 0.021.
	hv := tuner.Hypervolume([][]float64{{0.9, 10}, {1.0, 100}}, dirs, names)
	if math.Abs(hv-0.021) > 1e-12 {
		t.Fatalf("two points: %v, want 0.021", hv)
	}
	// A dominated point adds nothing.
	if hv2 := tuner.Hypervolume([][]float64{{0.9, 10}, {1.0, 100}, {0.95, 100}}, dirs, names); math.Abs(hv2-hv) > 1e-12 {
		t.Fatalf("with a dominated point: %v, want %v", hv2, hv)
	}
	trials := []studies.Trial{complete(0, 0.5, 1000), {Number: 1, State: studies.Fail}, complete(2, 0.9, 100),
		complete(3, 0.7, 10), complete(4, 0.6, 2000)}
	h := tuner.HypervolumeHistory(trials, accLat)
	if len(h) != 5 || h[0] <= 0 || h[1] != h[0] || h[4] != h[3] {
		t.Fatalf("history %v", h)
	}
	for i := 1; i < len(h); i++ {
		if h[i] < h[i-1] {
			t.Fatalf("history decreases: %v", h)
		}
	}
	var pts [][]float64
	for _, tr := range trials {
		if tr.State == studies.Complete {
			pts = append(pts, tr.Values)
		}
	}
	if last := tuner.Hypervolume(pts, dirs, names); math.Abs(last-h[4]) > 1e-12 {
		t.Fatalf("history ends at %v, hypervolume of all is %v", h[4], last)
	}
}

func TestConcreteConfig(t *testing.T) {
	dir := t.TempDir()
	spec := modelSpec(t, dir)
	r, err := spec.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	specJSON, _ := r.JSON()
	st := studies.Study{Name: "s", Spec: specJSON, Objectives: accLat}
	base, err := model.Load(spec.Model.File)
	if err != nil {
		t.Fatal(err)
	}
	param := func(name string, v float64) studies.Param { return studies.Param{Name: name, Value: v} }
	for _, c := range []struct {
		name   string
		params []studies.Param
		want   string
	}{
		{"dict", []studies.Param{param("n_w_bits", 3), param("n_a_bits", 6), param("pruning", 0.25), param("sparsity", 0),
			param("rounding_threshold_bits", 5), param("p_error", 0.001)},
			`{"n_bits":{"model_inputs":6,"model_outputs":6,"op_inputs":6,"op_weights":3},"rounding_threshold_bits":{"n_bits":5,"method":"EXACT"},"p_error":0.001,"global_p_error":null}`},
		{"int", []studies.Param{param("n_w_bits", 7), param("n_a_bits", 7), param("pruning", 0), param("sparsity", 0),
			param("rounding_threshold_bits", 0), param("p_error", 0.01)},
			`{"n_bits":7,"rounding_threshold_bits":null,"p_error":0.01,"global_p_error":null}`},
		{"small bits are a dict", []studies.Param{param("n_w_bits", 4), param("n_a_bits", 4), param("pruning", 0), param("sparsity", 0),
			param("rounding_threshold_bits", 0), param("p_error", 0.01)},
			`{"n_bits":{"model_inputs":4,"model_outputs":5,"op_inputs":4,"op_weights":4},"rounding_threshold_bits":null,"p_error":0.01,"global_p_error":null}`},
		{"global p_error and inputs", []studies.Param{param("n_w_bits", 8), param("n_a_bits", 8), param("n_input_bits", 6),
			param("pruning", 0), param("sparsity", 0), param("rounding_threshold_bits", 6), param("global_p_error", 0.05)},
			`{"n_bits":{"model_inputs":6,"model_outputs":8,"op_inputs":8,"op_weights":8},"rounding_threshold_bits":{"n_bits":6,"method":"EXACT"},"p_error":null,"global_p_error":0.05}`},
		{"approximate rounding", []studies.Param{param("n_w_bits", 6), param("n_a_bits", 6), param("pruning", 0), param("sparsity", 0),
			param("rounding_threshold_bits", 4), param("rounding_method", 1), param("p_error", 0.01)},
			`{"n_bits":6,"rounding_threshold_bits":{"n_bits":4,"method":"APPROXIMATE"},"p_error":0.01,"global_p_error":null}`},
		{"exact rounding stored", []studies.Param{param("n_w_bits", 6), param("n_a_bits", 6), param("pruning", 0), param("sparsity", 0),
			param("rounding_threshold_bits", 8), param("rounding_method", 0), param("p_error", 0.01)},
			`{"n_bits":6,"rounding_threshold_bits":{"n_bits":8,"method":"EXACT"},"p_error":0.01,"global_p_error":null}`},
		{"no rounding, approximate method", []studies.Param{param("n_w_bits", 7), param("n_a_bits", 7), param("pruning", 0), param("sparsity", 0),
			param("rounding_threshold_bits", 0), param("rounding_method", 1), param("p_error", 0.01)},
			`{"n_bits":7,"rounding_threshold_bits":null,"p_error":0.01,"global_p_error":null}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := studies.Trial{Number: 4, State: studies.Complete, Params: c.params, Values: []float64{0.9, 120}}
			cfg, err := tuner.ConcreteConfigOf(st, tr, base)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(cfg.CompileArgs)
			if string(got) != c.want {
				t.Fatalf("compile args\n got %s\nwant %s", got, c.want)
			}
			if cfg.Configuration.SecurityLevel != 128 || cfg.Configuration.ParameterSelectionStrategy != "multi" ||
				cfg.Values["latency_ms"] != 120 || cfg.Model != spec.Model.File || cfg.Trial != 4 {
				t.Fatalf("config %+v", cfg)
			}
			p := cfg.Pruning
			if !reflect.DeepEqual(p.WidthsBefore, []int{64, 64}) {
				t.Fatalf("widths before %v", p.WidthsBefore)
			}
			if k := tuner.KnobValues(c.params); k["pruning"] > 0 {
				// round(0.25·64) = 16 units go from each hidden layer.
				if !reflect.DeepEqual(p.WidthsAfter, []int{48, 48}) || p.Norm != "l2" || p.FineTuneEpochs != 3 || len(p.Torch) != 1 {
					t.Fatalf("pruning %+v", p)
				}
			} else if !reflect.DeepEqual(p.WidthsAfter, p.WidthsBefore) || p.FineTuneEpochs != 0 || len(p.Torch) != 0 {
				t.Fatalf("no pruning %+v", p)
			}
		})
	}
	if _, err := tuner.ConcreteConfigOf(st, studies.Trial{Number: 9, State: studies.Running}, base); !errors.Is(err, tuner.ErrNoPick) {
		t.Fatalf("a trial without knobs: %v", err)
	}
}
