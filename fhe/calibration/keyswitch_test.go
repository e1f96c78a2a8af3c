package calibration_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/fhe/calibration"
)

// Two secure sets of the optimizer (6-bit and 4-bit TLUs at p_error 6.3e-5): a layer of
// 4-bit TLUs fed by 6-bit ones keyswitches from the first's big key (k·N = 2048) to the
// second's small key (n = 802).
var (
	ksFrom = fhe.ParamsLiteral{GLWERank: 1, LogPolyDegree: 11, LWEDimension: 815, BRLevel: 2, BRLogBase: 15, KSLevel: 8, KSLogBase: 2}.MustCompile()
	ksTo   = fhe.ParamsLiteral{GLWERank: 2, LogPolyDegree: 10, LWEDimension: 802, BRLevel: 1, BRLogBase: 23, KSLevel: 3, KSLogBase: 4}.MustCompile()
)

func TestMeasureKeySwitchBetween(t *testing.T) {
	m, err := calibration.MeasureKeySwitchBetween(context.Background(), ksFrom, ksTo, 3, 4, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Checked != 5 || m.Wrong != 0 || !(m.MS > 0) || m.Level != 3 || m.LogBase != 4 {
		t.Errorf("measurement %+v", m)
	}
	for _, bad := range [][3]int{{0, 4, 4}, {3, 30, 4}, {3, 4, 0}} {
		if _, err := calibration.MeasureKeySwitchBetween(context.Background(), ksFrom, ksTo, bad[0], bad[1], bad[2], 1); !errors.Is(err, calibration.ErrRefused) {
			t.Errorf("level %d, log base %d, repeats %d: %v", bad[0], bad[1], bad[2], err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := calibration.MeasureKeySwitchBetween(ctx, ksFrom, ksTo, 3, 4, 2, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestFitBetween(t *testing.T) {
	m := calibration.KeySwitchMeasurement{From: ksFrom, To: ksTo, Level: 3, LogBase: 4, MS: 2.0}
	// 2048·3·803 multiply-adds in 2 ms.
	b, err := calibration.FitBetween([]calibration.KeySwitchMeasurement{m})
	if err != nil || math.Abs(b.NSPerMAC-2e6/(2048*3*803)) > 1e-12 {
		t.Fatalf("model %+v, %v", b, err)
	}
	pr := calibration.Profile{Between: &b}
	if got := pr.KeySwitchBetweenMS(ksFrom, ksTo, 3); math.Abs(got-2) > 1e-9 {
		t.Errorf("prediction %v ms of the measured pair, want 2", got)
	}
	if _, err := calibration.FitBetween(nil); !errors.Is(err, calibration.ErrFit) {
		t.Errorf("no measurement: %v", err)
	}
	m.MS = 0
	if _, err := calibration.FitBetween([]calibration.KeySwitchMeasurement{m}); !errors.Is(err, calibration.ErrFit) {
		t.Errorf("zero time: %v", err)
	}
}

// BenchmarkKeySwitchBetween checks the model of keyswitches between keys on this
// machine: it fits [calibration.BetweenModel] to one pair of partitions (6-bit sets
// into 4-bit ones) and predicts the reverse pair (a different k·N, n and level), and
// reports the atomic-pattern keyswitch terms' prediction of the same keyswitch for
// comparison (the default profile's, measured on another machine). The goal is a
// prediction within ±40% of the measurement; it fails outside half to twice it: both
// are medians of thread CPU times taken seconds apart, which load moves far less.
func BenchmarkKeySwitchBetween(b *testing.B) {
	pr, err := calibration.Default()
	if err != nil {
		b.Fatal(err)
	}
	var fit, check calibration.KeySwitchMeasurement
	for b.Loop() {
		if fit, err = calibration.MeasureKeySwitchBetween(context.Background(), ksFrom, ksTo, 3, 4, 5, 1); err != nil {
			b.Fatal(err)
		}
		if check, err = calibration.MeasureKeySwitchBetween(context.Background(), ksTo, ksFrom, 8, 2, 5, 2); err != nil {
			b.Fatal(err)
		}
		if fit.Wrong+check.Wrong != 0 {
			b.Fatalf("%d and %d keyswitches decrypted wrong", fit.Wrong, check.Wrong)
		}
	}
	model, err := calibration.FitBetween([]calibration.KeySwitchMeasurement{fit})
	if err != nil {
		b.Fatal(err)
	}
	predicted := calibration.Profile{Between: &model}.KeySwitchBetweenMS(ksTo, ksFrom, 8)
	b.ReportMetric(check.MS, "measured-ms")
	b.ReportMetric(predicted/check.MS, "between-model/measured")
	b.ReportMetric(pr.KeySwitchBetweenMS(ksTo, ksFrom, 8)/check.MS, "atomic-terms/measured")
	if r := predicted / check.MS; r > 2 || r < 0.5 {
		b.Fatalf("the model fitted to one keyswitch between keys predicts %.2f× another's time (goal within ±40%%)", r)
	}
}
