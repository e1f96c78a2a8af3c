package tuner_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/fhetune/fhetune/tuner"
)

// BenchmarkDefaultStudy runs the post-training default study (digits, the default MLP,
// 60 trials, the real objective through Run's own path) with one and two workers, from a
// saved base model so that the figure is the trials' alone. It measures the driver, so
// it samples with NSGA-II, whose samples take microseconds (ParEGO's, tens of
// milliseconds, are measured by search/parego's BenchmarkSample). It reports trials per
// minute and the percentage of a trial's time spent outside the objective (claiming,
// sampling, storing; goal under 5%), and fails past 25%, which the machine's load
// cannot explain as it slows the objective too.
//
//	go test ./tuner -run '^$' -bench DefaultStudy -benchtime 3x
func BenchmarkDefaultStudy(b *testing.B) {
	dir := b.TempDir()
	spec := modelSpec(b, dir)
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			var ran int
			var elapsed, evalT, trialT time.Duration
			for i := 0; i < b.N; i++ {
				s := spec
				s.Workers = workers
				s.Sampler = tuner.SamplerSpec{Name: "nsga2"}
				db := openStore(b, filepath.Join(dir, fmt.Sprintf("w%d-%d.db", workers, i)))
				sum, err := tuner.Run(context.Background(), db, newPlan(b, s))
				if err != nil {
					b.Fatal(err)
				}
				ran += sum.Ran
				elapsed += sum.Elapsed
				evalT += sum.EvalTime
				trialT += sum.TrialTime
				db.Close()
			}
			outside := 100 * (1 - float64(evalT)/float64(trialT))
			b.ReportMetric(float64(ran)/elapsed.Minutes(), "trials/min")
			b.ReportMetric(outside, "pct_outside_eval")
			b.ReportMetric(float64(elapsed.Milliseconds())/float64(b.N), "ms/study")
			if outside > 25 {
				b.Fatalf("%.1f%% of a trial's time is spent outside the objective (goal under 5%%)", outside)
			}
		})
	}
}

// BenchmarkBuiltInStudy runs the built-in default study as `fhetune study start` does
// (DefaultSpec: post-training and quantization-aware trials, ParEGO, the two-level
// sweep, the dominated pruner; 60 trials, 2 workers) from a saved base model, and
// reports its wall time (goal under a minute on 2 cores) and its trainings (networks
// trained quantization-aware, pruned ones included).
//
//	go test ./tuner -run '^$' -bench BuiltInStudy -benchtime 1x
func BenchmarkBuiltInStudy(b *testing.B) {
	dir := b.TempDir()
	model := modelSpec(b, dir).Model
	for i := 0; i < b.N; i++ {
		s := tuner.DefaultSpec()
		s.Model, s.Workers = model, 2
		db := openStore(b, filepath.Join(dir, fmt.Sprintf("s%d.db", i)))
		sum, err := tuner.Run(context.Background(), db, newPlan(b, s))
		if err != nil {
			b.Fatal(err)
		}
		if sum.Done != tuner.DefaultTrials {
			b.Fatalf("the study ended with %d of %d trials", sum.Done, tuner.DefaultTrials)
		}
		b.ReportMetric(sum.Elapsed.Seconds(), "s/study")
		b.ReportMetric(float64(sum.Trainings), "trainings")
		b.ReportMetric(float64(sum.PrunedTrainings), "pruned_trainings")
		db.Close()
	}
}
