package tuner_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/fhetune/fhetune/search"
	"github.com/fhetune/fhetune/studies"
	"github.com/fhetune/fhetune/tuner"
)

var hvForms = struct {
	dirs  []search.Direction
	names []string
}{[]search.Direction{search.Maximize, search.Minimize}, []string{"accuracy", "latency_ms"}}

// BenchmarkSearchPTQ measures the search on the post-training default study (digits, the
// default MLP, the real objective) against the front of 3,000 random trials: the mean
// over 8 seeds of the hypervolume 60 trials reach, as a percentage of that front's
// (fhetune's transformed space, the reference point of the 3,000 trials), for NSGA-II
// with one trial per network (sweep 1), NSGA-II with the two-level search (the default
// sweep) and random search. The goals (≥ 98% and 2 points above random search)
// are reported, not asserted; it fails only when plain NSGA-II falls behind random
// search. About 4 minutes.
//
//	go test ./tuner -run '^$' -bench SearchPTQ -benchtime 1x
func BenchmarkSearchPTQ(b *testing.B) {
	for i := 0; i < b.N; i++ {
		ref := samplerRuns(b, map[string]tuner.SamplerSpec{"random": {Name: "random", Sweep: 1}}, 1, 3000)["random"][0]
		full := tuner.HypervolumeAgainst(ref, ref, hvForms.dirs, hvForms.names)
		runs := samplerRuns(b, map[string]tuner.SamplerSpec{
			"nsga2":       {Name: "nsga2", Sweep: 1},
			"nsga2_sweep": {Name: "nsga2"},
			"random":      {Name: "random", Sweep: 1},
		}, 8, tuner.DefaultTrials)
		mean := map[string]float64{}
		for name, rs := range runs {
			for _, pts := range rs {
				mean[name] += 100 * tuner.HypervolumeAgainst(pts, ref, hvForms.dirs, hvForms.names) / full / float64(len(rs))
			}
			b.ReportMetric(mean[name], "pct_hv_"+name)
		}
		if !(mean["nsga2"] > mean["random"]) {
			b.Fatalf("NSGA-II reaches %.2f%% of the 3,000-trial front, random search %.2f%%", mean["nsga2"], mean["random"])
		}
	}
}

// BenchmarkSearchQAT measures the hypervolume a quantization-aware study reaches per
// training: digits, the default MLP, training qat, n_w_bits and n_a_bits in [2, 4], the
// other knobs at their default ranges, 4 seeds. Plain NSGA-II (sweep 1) runs 40 trials;
// the two-level search (the default sweep) runs 60. A training is a network trained
// quantization-aware (trials that share one count once). It reports plain NSGA-II's mean
// hypervolume after its trainings, the two-level search's at the same number of
// trainings and at half of it (all runs against one reference point), and the trainings
// each used. The goal, the same hypervolume with at most half the trainings, is
// reported, not asserted. About 3 minutes.
//
//	go test ./tuner -run '^$' -bench SearchQAT -benchtime 1x
func BenchmarkSearchQAT(b *testing.B) {
	dir := b.TempDir()
	spec := modelSpec(b, dir)
	spec.Space = tuner.SpaceSpec{NWBits: &tuner.Range{Low: 2, High: 4}, NABits: &tuner.Range{Low: 2, High: 4},
		Training: &tuner.Choices{Values: []string{tuner.TrainingQAT}}}
	eval := defaultStudyEval(b, spec.Model.File)
	const seeds = 4
	for i := 0; i < b.N; i++ {
		runs := map[string][]trainingRun{}
		for _, c := range []struct {
			name   string
			sweep  int
			trials int
		}{{"plain", 1, 40}, {"sweep", 0, 60}} {
			for seed := 0; seed < seeds; seed++ {
				s := spec
				s.Trials, s.Seed = c.trials, int64(seed)
				s.Sampler = tuner.SamplerSpec{Name: "nsga2", Sweep: c.sweep}
				db := openStore(b, filepath.Join(dir, fmt.Sprintf("%s-%d-%d.db", c.name, seed, i)))
				sum, err := tuner.Run(context.Background(), db, newPlan(b, s), tuner.WithEvaluator(eval))
				if err != nil {
					b.Fatal(err)
				}
				ts, err := db.Trials(context.Background(), sum.Study.ID, studies.TrialFilter{})
				if err != nil {
					b.Fatal(err)
				}
				runs[c.name] = append(runs[c.name], trainingCurve(ts))
				db.Close()
			}
		}
		var all [][]float64
		for _, rs := range runs {
			for _, r := range rs {
				all = append(all, r.pts...)
			}
		}
		meanAt := func(rs []trainingRun, t float64) float64 {
			hv := 0.0
			for _, r := range rs {
				hv += r.hvAt(t, all) / float64(len(rs))
			}
			return hv
		}
		meanTrainings := func(rs []trainingRun) float64 {
			n := 0.0
			for _, r := range rs {
				n += float64(r.trainings()) / float64(len(rs))
			}
			return n
		}
		tPlain := meanTrainings(runs["plain"])
		b.ReportMetric(tPlain, "trainings_plain")
		b.ReportMetric(meanTrainings(runs["sweep"]), "trainings_sweep")
		b.ReportMetric(meanAt(runs["plain"], tPlain), "hv_plain")
		b.ReportMetric(meanAt(runs["sweep"], tPlain), "hv_sweep_same_trainings")
		b.ReportMetric(meanAt(runs["sweep"], tPlain/2), "hv_sweep_half_trainings")
		b.ReportMetric(meanAt(runs["plain"], tPlain/2), "hv_plain_half_trainings")
	}
}

// trainingRun is one study's complete trials in number order, each with the number of
// trainings the study had run up to it.
type trainingRun struct {
	pts  [][]float64
	nets []int
}

// trainingCurve reads a quantization-aware study's trials (by number).
func trainingCurve(ts []studies.Trial) trainingRun {
	var r trainingRun
	nets := map[string]bool{}
	for _, tr := range ts {
		k := tuner.KnobsOf(tr.Params, tuner.FHESpec{})
		k.RoundingThresholdBits, k.RoundingMethod, k.PError, k.GlobalPError = 0, "", 0, 0
		nets[fmt.Sprintf("%+v", k)] = true
		if tr.State == studies.Complete {
			r.pts = append(r.pts, tr.Values)
			r.nets = append(r.nets, len(nets))
		}
	}
	return r
}

func (r trainingRun) trainings() int {
	if len(r.nets) == 0 {
		return 0
	}
	return r.nets[len(r.nets)-1]
}

// hvAt returns the hypervolume of the trials run within t trainings, against the
// reference point of all.
func (r trainingRun) hvAt(t float64, all [][]float64) float64 {
	var pts [][]float64
	for i, n := range r.nets {
		if float64(n) <= t {
			pts = append(pts, r.pts[i])
		}
	}
	return tuner.HypervolumeAgainst(pts, all, hvForms.dirs, hvForms.names)
}
