package tuner_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/fhetune/fhetune/studies"
	"github.com/fhetune/fhetune/tuner"
)

// trainingKey is the training knobs of a stored trial, as the sweep groups trials.
func trainingKey(tr studies.Trial) [4]float64 {
	k := tuner.KnobsOf(tr.Params, tuner.FHESpec{})
	return [4]float64{float64(k.NWBits), float64(k.NABits), k.Pruning, k.Sparsity}
}

// TestSweepSharesNetworks runs a two-level study (sweep 3, one worker, the fixture
// objective): after a network's first trial, the next trials keep its training knobs and
// change only post-training ones, so runs of up to 3 trials share a network (the sampler
// may propose a known network again later), and every trial's "network" attribute is
// the number of its network's first trial.
func TestSweepSharesNetworks(t *testing.T) {
	ts := fixtureStudy(t, 40, 3)
	first := map[[4]float64]int{}
	run, swept := 0, 0
	for i, tr := range ts {
		k := trainingKey(tr)
		if _, ok := first[k]; !ok {
			first[k] = tr.Number
		}
		if i > 0 && k == trainingKey(ts[i-1]) {
			run++
			if run == 1 {
				swept++
			}
			if run > 2 {
				t.Fatalf("trials %d..%d share a network, sweep 3", tr.Number-run, tr.Number)
			}
		} else {
			run = 0
		}
		if tr.State != studies.Complete {
			continue
		}
		var a struct {
			Network *int `json:"network"`
		}
		if err := json.Unmarshal(tr.Attrs, &a); err != nil || a.Network == nil || *a.Network != first[k] {
			t.Fatalf("trial %d: network attribute %v (%v), want %d", tr.Number, a.Network, err, first[k])
		}
	}
	if 4*len(first) > 3*len(ts) || swept < 5 {
		t.Fatalf("%d networks for %d trials, %d swept: no two-level search", len(first), len(ts), swept)
	}
	t.Logf("%d trials on %d networks, %d swept", len(ts), len(first), swept)
}

// TestSweepOff: with sweep 1 the sampler proposes every trial's network, and rarely one
// it proposed before (pruning is continuous).
func TestSweepOff(t *testing.T) {
	ts := fixtureStudy(t, 20, 1)
	nets := map[[4]float64]bool{}
	for _, tr := range ts {
		nets[trainingKey(tr)] = true
	}
	if 10*len(nets) < 9*len(ts) {
		t.Fatalf("%d networks for %d trials with sweep 1", len(nets), len(ts))
	}
}

// fixtureStudy runs an NSGA-II study of the post-training space with the fixture
// objective, one worker and the given sweep, and returns its trials by number.
func fixtureStudy(t *testing.T, trials, sweep int) []studies.Trial {
	t.Helper()
	dir := t.TempDir()
	spec := modelSpec(t, dir)
	spec.Trials = trials
	spec.Sampler = tuner.SamplerSpec{Name: "nsga2", Sweep: sweep}
	db := openStore(t, filepath.Join(dir, "s.db"))
	if _, err := tuner.Run(context.Background(), db, newPlan(t, spec), tuner.WithEvaluator(fixtureEval)); err != nil {
		t.Fatal(err)
	}
	_, ts := allTrials(t, db, tuner.DefaultStudyName)
	return ts
}
