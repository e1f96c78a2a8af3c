package calibration_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/fhe/calibration"
)

// BenchmarkKSPBS times one keyswitch + programmable bootstrap on one core for the
// optimizer's set of each precision at p_error 6.3e-5 and log2 norm2 0 (key generation
// is outside the timer). Reference points on one x86-64 core: 4 bits ≈ 14 ms, 6 bits
// ≈ 49 ms, 8 bits ≈ 310 ms.
func BenchmarkKSPBS(b *testing.B) {
	o, err := fhe.NewOptimizer()
	if err != nil {
		b.Fatal(err)
	}
	for p := 1; p <= 8; p++ {
		s, err := o.Optimize(fhe.Query{Precision: p, PError: 6.3e-5})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("bits=%d", p), func(b *testing.B) {
			r, err := calibration.NewRunner(context.Background(), calibration.Target{Params: s.Params, Precision: p}, 1)
			if err != nil {
				b.Fatal(err)
			}
			r.BootstrapOnce()
			b.ResetTimer()
			for b.Loop() {
				r.BootstrapOnce()
			}
		})
	}
}

// BenchmarkCalibrateQuick runs what `fhetune calibrate --quick` measures (precisions
// 1..5, three p_error values, log2 norm2 0, at least 5 rounds and the default least
// round time). Goal: under 60 s on 2 idle cores.
func BenchmarkCalibrateQuick(b *testing.B) {
	o, err := fhe.NewOptimizer()
	if err != nil {
		b.Fatal(err)
	}
	targets, err := calibration.Plan(o, calibration.PlanOptions{MaxPrecision: 5, Log2Norm2s: []float64{0}})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		pr, err := calibration.Calibrate(context.Background(), targets, calibration.Options{Measure: calibration.MeasureOptions{Repeats: 5}})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(targets)), "sets")
		b.ReportMetric(100*pr.LOO.Median, "loo_median_%")
		b.ReportMetric(100*pr.LOO.Max, "loo_max_%")
	}
}

// BenchmarkFit fits the default terms to 40 synthetic sets and leaves each out once.
func BenchmarkFit(b *testing.B) {
	pts := synthetic(b, randomSets(b, 40, 5), 0.02, 9)
	for b.Loop() {
		if _, err := calibration.LeaveOneOut(calibration.DefaultTerms, pts); err != nil {
			b.Fatal(err)
		}
	}
}
