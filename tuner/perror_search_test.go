package tuner_test

import (
	"context"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/fhetune/fhetune/fhe/circuit"
	"github.com/fhetune/fhetune/tuner"
)

// perrorKnobs is the default model's setting of the p_error search tests: 4-bit
// weights and activations, accumulators rounded to 6 bits.
var perrorKnobs = tuner.Knobs{NWBits: 4, NABits: 4, RoundingThresholdBits: 6}

// meanAccuracy evaluates k with the seeds a search uses and returns the mean accuracy,
// the error-free accuracy and the latency.
func meanAccuracy(t *testing.T, env *tuner.Env, task tuner.Task, k tuner.Knobs, seeds int) (acc, ref, ms float64) {
	t.Helper()
	for i := range seeds {
		tk := task
		tk.Seed = task.Seed + uint64(i)
		res, err := tuner.Evaluate(context.Background(), env, tk, k)
		if err != nil {
			t.Fatal(err)
		}
		acc += res.Accuracy / float64(seeds)
		ref, ms = res.QuantizedAccuracy, res.LatencyMS
	}
	return acc, ref, ms
}

func TestPErrorSearchDigits(t *testing.T) {
	_, task := digitsTask(t)
	for _, tc := range []struct {
		name   string
		global bool
		drop   float64
		// monotone says that accuracy falls clearly enough near the answer for twice
		// the answer to fail the drop: with D = 0 one changed prediction decides, and
		// errors fix predictions as well as break them.
		monotone bool
	}{
		{"p_error drop 0.01", false, 0.01, true},
		{"p_error drop 0.05", false, 0.05, true},
		{"p_error drop 0", false, 0, false},
		{"global_p_error drop 0.005", true, 0.005, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := testEnv(t)
			var steps []tuner.PErrorStep
			opts := tuner.PErrorSearch{MaxAccuracyDrop: tc.drop, Global: tc.global, Progress: func(s tuner.PErrorStep) { steps = append(steps, s) }}
			res, err := tuner.SearchPError(context.Background(), env, task, perrorKnobs, opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s %.3g: accuracy %.4f (reference %.4f), %.1f ms, %d evaluations", tc.name, res.PError, res.Accuracy, res.Reference,
				res.LatencyMS, res.Evaluations)
			if res.Evaluations > 12 || res.Evaluations != len(res.History) || !reflect.DeepEqual(steps, res.History) || !res.Converged {
				t.Errorf("%d evaluations, history %+v, progress %+v, converged %v", res.Evaluations, res.History, steps, res.Converged)
			}
			if !(res.PError >= tuner.DefaultPErrorLower && res.PError < tuner.DefaultPErrorUpper) || res.Global != tc.global {
				t.Fatalf("result %+v", res)
			}
			k := perrorKnobs
			set := func(p float64) tuner.Knobs {
				k.PError, k.GlobalPError = p, 0
				if tc.global {
					k.PError, k.GlobalPError = 0, p
				}
				return k
			}
			// The value meets the drop, and is what Evaluate gives with the same seeds.
			acc, ref, ms := meanAccuracy(t, env, task, set(res.PError), tuner.DefaultPErrorSeeds)
			if ref != res.Reference || math.Abs(acc-res.Accuracy) > 1e-12 || ms != res.LatencyMS {
				t.Errorf("Evaluate at %g: accuracy %v, reference %v, %v ms; search says %v, %v, %v ms", res.PError, acc, ref, ms,
					res.Accuracy, res.Reference, res.LatencyMS)
			}
			if ref-acc > tc.drop+1e-12 {
				t.Errorf("accuracy %v at %g: more than %v below %v", acc, res.PError, tc.drop, ref)
			}
			// Twice the value does not (or it is beyond the range).
			if twice := 2 * res.PError; tc.monotone && twice < tuner.DefaultPErrorUpper {
				if acc2, _, _ := meanAccuracy(t, env, task, set(twice), tuner.DefaultPErrorSeeds); ref-acc2 <= tc.drop {
					t.Errorf("twice the p_error, %g, still meets the drop: accuracy %v, reference %v", twice, acc2, ref)
				}
			}
		})
	}
}

func TestPErrorSearchDeterministic(t *testing.T) {
	_, task := digitsTask(t)
	opts := tuner.PErrorSearch{MaxAccuracyDrop: 0.01, Seeds: 3}
	a, err := tuner.SearchPError(context.Background(), testEnv(t), task, perrorKnobs, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := tuner.SearchPError(context.Background(), testEnv(t), task, perrorKnobs, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("two searches with the same seeds differ:\n%+v\n%+v", a, b)
	}
	// Another seed draws other errors: the history may move, but still meets the drop.
	task.Seed += 100
	c, err := tuner.SearchPError(context.Background(), testEnv(t), task, perrorKnobs, opts)
	if err != nil {
		t.Fatal(err)
	}
	if c.Reference-c.Accuracy > opts.MaxAccuracyDrop+1e-12 {
		t.Errorf("seed %d: %+v", task.Seed, c)
	}
}

func TestPErrorSearchStops(t *testing.T) {
	_, task := digitsTask(t)
	// MaxEvaluations stops the bisection before the tolerance; the result is still the
	// largest accepted value.
	res, err := tuner.SearchPError(context.Background(), testEnv(t), task, perrorKnobs,
		tuner.PErrorSearch{MaxAccuracyDrop: 0.01, MaxEvaluations: 3, Seeds: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Converged || res.Evaluations < 3 || res.Evaluations > 4 {
		t.Errorf("3 steps: %+v", res)
	}
	for _, s := range res.History {
		if s.Accepted && s.PError > res.PError {
			t.Errorf("accepted %g above the result %g", s.PError, res.PError)
		}
	}
	// A drop nothing but the error-free circuit meets, in a range of large p_errors:
	// every step is refused and the lower end too.
	_, err = tuner.SearchPError(context.Background(), testEnv(t), task, perrorKnobs,
		tuner.PErrorSearch{Lower: 0.3, Upper: 0.9, Seeds: 1})
	if !errors.Is(err, tuner.ErrInfeasible) {
		t.Errorf("no p_error meets the drop: %v", err)
	}
}

func TestPErrorSearchInfeasible(t *testing.T) {
	_, task := digitsTask(t)
	// 8-bit weights and activations, rounded to 8 bits: 16-bit outputs that small
	// p_errors cannot decode. Steps without crypto parameters raise the lower bound.
	res, err := tuner.SearchPError(context.Background(), testEnv(t), task, tuner.Knobs{NWBits: 8, NABits: 8, RoundingThresholdBits: 8},
		tuner.PErrorSearch{MaxAccuracyDrop: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	infeasible := 0
	for _, s := range res.History {
		if s.Infeasible {
			infeasible++
			if s.Accepted || s.PError >= res.PError {
				t.Errorf("infeasible step %+v, result %g", s, res.PError)
			}
		}
	}
	if infeasible == 0 || res.Reference-res.Accuracy > 0.01 {
		t.Errorf("%d infeasible steps: %+v", infeasible, res)
	}
	// No rounding: 16-bit TLUs that no p_error serves. The error names the layer.
	_, err = tuner.SearchPError(context.Background(), testEnv(t), task, tuner.Knobs{NWBits: 6, NABits: 6, NInputBits: 8},
		tuner.PErrorSearch{MaxAccuracyDrop: 0.01})
	var le *circuit.LayerError
	if !errors.Is(err, tuner.ErrInfeasible) || !errors.As(err, &le) || le.Layer != "fc1" {
		t.Errorf("no crypto parameters at any p_error: %v", err)
	}
}

func TestPErrorSearchBadInput(t *testing.T) {
	_, task := digitsTask(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		k    tuner.Knobs
		opts tuner.PErrorSearch
		want error
	}{
		{"drop 1", perrorKnobs, tuner.PErrorSearch{MaxAccuracyDrop: 1}, tuner.ErrKnobs},
		{"drop below 0", perrorKnobs, tuner.PErrorSearch{MaxAccuracyDrop: -0.1}, tuner.ErrKnobs},
		{"range inverted", perrorKnobs, tuner.PErrorSearch{Lower: 0.5, Upper: 0.1}, tuner.ErrKnobs},
		{"upper 1", perrorKnobs, tuner.PErrorSearch{Upper: 1}, tuner.ErrKnobs},
		{"seeds", perrorKnobs, tuner.PErrorSearch{Seeds: -1}, tuner.ErrKnobs},
		{"tolerance", perrorKnobs, tuner.PErrorSearch{Tolerance: 0.5}, tuner.ErrKnobs},
		{"knobs", tuner.Knobs{NWBits: 0, NABits: 4}, tuner.PErrorSearch{}, tuner.ErrKnobs},
		{"too wide", tuner.Knobs{NWBits: 8, NABits: 8}, tuner.PErrorSearch{}, tuner.ErrInfeasible},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tuner.SearchPError(ctx, testEnv(t), task, tc.k, tc.opts); !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := tuner.SearchPError(ctx, nil, task, perrorKnobs, tuner.PErrorSearch{}); !errors.Is(err, tuner.ErrTask) {
		t.Errorf("no env: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := tuner.SearchPError(cancelled, testEnv(t), task, perrorKnobs, tuner.PErrorSearch{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
