package tuner_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/fhetune/fhetune/studies"
	"github.com/fhetune/fhetune/tuner"
	"github.com/fhetune/fhetune/tuner/dataset"
)

var studyBase struct {
	once sync.Once
	b    []byte
	err  error
}

// saveBaseModel writes the default study's base model (the default MLP trained on
// digits with the default recipe, trained once per test binary) to path, so that
// studies given it as a model file get the same trials as the default study without
// training again.
func saveBaseModel(tb testing.TB, path string) {
	tb.Helper()
	studyBase.once.Do(func() {
		ds, err := dataset.Load("digits")
		if err != nil {
			studyBase.err = err
			return
		}
		task, err := tuner.SplitTask(ds, tuner.DefaultTrainingSeed)
		if err != nil {
			studyBase.err = err
			return
		}
		net, err := tuner.TrainBase(context.Background(), tuner.DefaultMLPSpec, ds, task, tuner.DefaultBaseTraining(tuner.DefaultTrainingSeed))
		if err != nil {
			studyBase.err = err
			return
		}
		studyBase.b, studyBase.err = net.MarshalBinary()
	})
	if studyBase.err != nil {
		tb.Fatal(studyBase.err)
	}
	if err := os.WriteFile(path, studyBase.b, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// modelSpec returns a spec of the default study over a saved copy of its base model.
func modelSpec(tb testing.TB, dir string) tuner.Spec {
	tb.Helper()
	path := filepath.Join(dir, "base.fhtm")
	if _, err := os.Stat(path); err != nil {
		saveBaseModel(tb, path)
	}
	return tuner.Spec{Model: tuner.ModelSpec{File: path}}
}

// fixtureEval is a cheap, deterministic stand-in for the objective with the shape of
// the real one: accuracy grows with bits and falls with pruning and p_error, latency
// grows exponentially with the TLU bits. Without rounding, wide accumulators fail.
func fixtureEval(_ context.Context, k tuner.Knobs) (tuner.Result, error) {
	if k.RoundingThresholdBits == 0 && k.NABits+k.NWBits > 13 {
		return tuner.Result{}, fmt.Errorf("%w: fixture: accumulator of %d bits", tuner.ErrInfeasible, k.NABits+k.NWBits+3)
	}
	pe := k.PError
	if pe == 0 {
		pe = k.GlobalPError
	}
	acc := 0.96 - 0.4*math.Pow(0.5, float64(k.NABits-1)) - 0.3*math.Pow(0.5, float64(k.NWBits-1)) -
		0.2*k.Pruning*k.Pruning - 0.3*pe
	bits := k.NABits + k.NWBits + 3
	if k.RoundingThresholdBits > 0 && k.RoundingThresholdBits < bits {
		bits = k.RoundingThresholdBits
		acc -= 0.02 * float64(k.NABits+k.NWBits+3-bits) / 10
	}
	lat := 10 * math.Pow(2, float64(bits)) * (1 - 0.8*k.Pruning) * (1 + 0.1*math.Log10(1/pe))
	return tuner.Result{Accuracy: acc, QuantizedAccuracy: acc + 0.3*pe, FloatAccuracy: 0.96, LatencyMS: lat,
		PBSCount: int(128 * (1 - k.Pruning)), MaxTLUBits: bits, Knobs: k,
		Layers: []tuner.LayerResult{{Name: "fc1", TLUCount: 64, TLUBits: bits, LayerMS: lat}}}, nil
}

func openStore(tb testing.TB, path string) *studies.Store {
	tb.Helper()
	s, err := studies.Open(context.Background(), path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func newPlan(tb testing.TB, s tuner.Spec) *tuner.Plan {
	tb.Helper()
	p, err := tuner.NewPlan(s)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// allTrials returns the study's trials by number.
func allTrials(tb testing.TB, db *studies.Store, name string) (studies.Study, []studies.Trial) {
	tb.Helper()
	ctx := context.Background()
	st, err := db.Study(ctx, name)
	if err != nil {
		tb.Fatal(err)
	}
	ts, err := db.Trials(ctx, st.ID, studies.TrialFilter{})
	if err != nil {
		tb.Fatal(err)
	}
	return st, ts
}

// trialText describes a trial's number, state, knobs and values for comparisons.
func trialText(t studies.Trial) string {
	return fmt.Sprintf("%d %s %v %v %s", t.Number, t.State, tuner.KnobValues(t.Params), t.Values, t.Error)
}
