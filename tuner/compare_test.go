package tuner_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/fhetune/fhetune/fhe/calibration"
	"github.com/fhetune/fhetune/studies"
	"github.com/fhetune/fhetune/tuner"
	"github.com/fhetune/fhetune/tuner/dataset"
	"github.com/fhetune/fhetune/tuner/model"
)

var sharedEval struct {
	once sync.Once
	eval tuner.EvalFunc
	err  error
}

// defaultStudyEval returns the default study's objective (Evaluate on its task with the
// built-in calibration profile, as a study on a fresh database uses) with one Env shared
// by every call, so that many studies reuse its parameter memo. It gives the values Run's
// own objective gives.
func defaultStudyEval(tb testing.TB, modelPath string) tuner.EvalFunc {
	tb.Helper()
	sharedEval.once.Do(func() {
		ds, err := dataset.Load("digits")
		if err != nil {
			sharedEval.err = err
			return
		}
		task, err := tuner.SplitTask(ds, tuner.DefaultTrainingSeed)
		if err != nil {
			sharedEval.err = err
			return
		}
		if task.Base, err = model.Load(modelPath); err != nil {
			sharedEval.err = err
			return
		}
		pr, err := calibration.Default()
		if err != nil {
			sharedEval.err = err
			return
		}
		env, err := tuner.NewProfileEnv(pr, calibration.SourceDefault)
		if err != nil {
			sharedEval.err = err
			return
		}
		sharedEval.eval = func(ctx context.Context, k tuner.Knobs) (tuner.Result, error) {
			return tuner.Evaluate(ctx, env, task, k)
		}
	})
	if sharedEval.err != nil {
		tb.Fatal(sharedEval.err)
	}
	return sharedEval.eval
}

// samplerRuns runs the post-training default study with each sampler configuration (by
// name) and seed, for the given number of trials, and returns the values of every run's
// complete trials.
func samplerRuns(tb testing.TB, configs map[string]tuner.SamplerSpec, seeds, trials int) map[string][][][]float64 {
	tb.Helper()
	dir := tb.TempDir()
	spec := modelSpec(tb, dir)
	spec.Trials = trials
	eval := defaultStudyEval(tb, spec.Model.File)
	runs := map[string][][][]float64{}
	for name, smp := range configs {
		for seed := 0; seed < seeds; seed++ {
			s := spec
			s.Sampler = smp
			s.Seed = int64(seed)
			db := openStore(tb, filepath.Join(dir, fmt.Sprintf("%s-%d.db", name, seed)))
			sum, err := tuner.Run(context.Background(), db, newPlan(tb, s), tuner.WithEvaluator(eval))
			if err != nil {
				tb.Fatal(err)
			}
			ts, err := db.Trials(context.Background(), sum.Study.ID, studies.TrialFilter{States: []studies.State{studies.Complete}})
			if err != nil {
				tb.Fatal(err)
			}
			var pts [][]float64
			for _, tr := range ts {
				pts = append(pts, tr.Values)
			}
			runs[name] = append(runs[name], pts)
			db.Close()
		}
	}
	return runs
}

// meanHypervolumes returns each sampler's mean hypervolume over its runs, every run
// measured against the reference point of all runs together.
func meanHypervolumes(runs map[string][][][]float64) map[string]float64 {
	var all [][]float64
	for _, rs := range runs {
		for _, pts := range rs {
			all = append(all, pts...)
		}
	}
	mean := map[string]float64{}
	for smp, rs := range runs {
		for _, pts := range rs {
			mean[smp] += tuner.HypervolumeAgainst(pts, all, hvForms.dirs, hvForms.names) / float64(len(rs))
		}
	}
	return mean
}

// TestNSGA2BeatsRandomOnDefaultStudy runs the default digits study (real objective, 60
// trials, one trial per network) with NSGA-II and with random search for 8 seeds each:
// NSGA-II's mean hypervolume must be the larger. (BenchmarkSearchPTQ measures both
// against a 3,000-trial random front.)
func TestNSGA2BeatsRandomOnDefaultStudy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 16 studies of 60 trials")
	}
	mean := meanHypervolumes(samplerRuns(t, map[string]tuner.SamplerSpec{
		"nsga2": {Name: "nsga2", Sweep: 1}, "random": {Name: "random", Sweep: 1}}, 8, tuner.DefaultTrials))
	t.Logf("mean hypervolume over 8 seeds: nsga2 %.4f, random %.4f", mean["nsga2"], mean["random"])
	if !(mean["nsga2"] > mean["random"]) {
		t.Fatalf("NSGA-II mean hypervolume %.4f is not above random search's %.4f", mean["nsga2"], mean["random"])
	}
}
