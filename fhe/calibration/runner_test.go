package calibration_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/fhe/calibration"
)

// smallStdDev is the noise of the small test sets: far below their dimensions' secure
// minimum, so that they decrypt correctly without being large.
const smallStdDev = 1.0 / (1 << 40)

// smallTarget is an insecure but valid set that bootstraps in well under a millisecond.
func smallTarget(t *testing.T, lit fhe.ParamsLiteral, precision int, log2Norm2 float64) calibration.Target {
	t.Helper()
	p, err := lit.Compile()
	if err != nil {
		t.Fatal(err)
	}
	return calibration.Target{Params: p, Precision: precision, Log2Norm2: log2Norm2,
		LWEStdDev: smallStdDev, GLWEStdDev: smallStdDev, Label: "test"}
}

var smallSets = []struct {
	name string
	lit  fhe.ParamsLiteral
}{
	{"k=1 N=2^9 n=160", fhe.ParamsLiteral{GLWERank: 1, LogPolyDegree: 9, LWEDimension: 160, BRLevel: 2, BRLogBase: 10, KSLevel: 4, KSLogBase: 5}},
	{"k=2 N=2^8 n=128", fhe.ParamsLiteral{GLWERank: 2, LogPolyDegree: 8, LWEDimension: 128, BRLevel: 3, BRLogBase: 7, KSLevel: 3, KSLogBase: 6}},
}

func TestRunnerComputesLookUpTable(t *testing.T) {
	for _, s := range smallSets {
		for _, precision := range []int{1, 3, 4} {
			t.Run(fmt.Sprintf("%s/bits=%d", s.name, precision), func(t *testing.T) {
				r, err := calibration.NewRunner(context.Background(), smallTarget(t, s.lit, precision, 0), 7)
				if err != nil {
					t.Fatal(err)
				}
				table := r.Table()
				if len(table) != 1<<precision {
					t.Fatalf("table has %d entries, want %d", len(table), 1<<precision)
				}
				distinct := map[int]bool{}
				for x, want := range table {
					distinct[want] = true
					if got := r.Apply(x); got != want {
						t.Errorf("bootstrap of %d = %d, want table[%d] = %d", x, got, x, want)
					}
				}
				if precision >= 3 && len(distinct) < 2 {
					t.Errorf("table %v is constant: the check would prove little", table)
				}
			})
		}
	}
}

func TestRunnerMeasures(t *testing.T) {
	ctx := context.Background()
	// Log2Norm2 2: inputs are 4·(previous output) + c, so the table maps into 0..3.
	r, err := calibration.NewRunner(ctx, smallTarget(t, smallSets[0].lit, 4, 2), 3)
	if err != nil {
		t.Fatal(err)
	}
	for x, y := range r.Table() {
		if y < 0 || y > 3 {
			t.Fatalf("table[%d] = %d outside 0..3 with weight 4 at 4 bits", x, y)
		}
	}
	m, err := r.Measure(ctx, calibration.MeasureOptions{Repeats: 4, Warmup: 2, Workers: 2, PerWorker: 3, DotTerms: 8})
	if err != nil {
		t.Fatal(err)
	}
	// 2 warm-up + 4 timed, then 2 workers × (1 warm-up + 3 timed).
	if m.Bootstraps != 6+8 {
		t.Errorf("bootstraps %d, want 14", m.Bootstraps)
	}
	if m.Wrong != 0 {
		t.Errorf("%d wrong results of %d (estimated p_error %g)", m.Wrong, m.Bootstraps, m.EstimatedPError)
	}
	if !(m.EstimatedPError < 1e-9) {
		t.Errorf("estimated p_error %g: the test set is too noisy", m.EstimatedPError)
	}
	if len(m.SamplesMS) != 4 || !(m.MS > 0) || !(m.KSMS > 0) || !(m.PBSMS > 0) || !(m.WallMS > 0) {
		t.Errorf("times: samples %v, ms %g, ks %g, pbs %g, wall %g", m.SamplesMS, m.MS, m.KSMS, m.PBSMS, m.WallMS)
	}
	if m.Workers != 2 || !(m.ThroughputPerS > 0) || !(m.ParallelMS > 0) || !(m.ParallelRefMS > 0) ||
		!(m.DotNSPerCoef > 0) || !(m.KeygenMS > 0) {
		t.Errorf("workers %d, throughput %g/s, parallel %g ms (alone %g ms), dot %g ns, keygen %g ms",
			m.Workers, m.ThroughputPerS, m.ParallelMS, m.ParallelRefMS, m.DotNSPerCoef, m.KeygenMS)
	}
	if m.Set != smallSets[0].lit || m.Precision != 4 || m.Log2Norm2 != 2 || m.Label != "test" {
		t.Errorf("identity %+v", m)
	}
	if m.Clock != "thread-cpu" && m.Clock != "wall" {
		t.Errorf("clock %q", m.Clock)
	}
}

func TestRunnerHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r, err := calibration.NewRunner(ctx, smallTarget(t, smallSets[1].lit, 2, 0), 1)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := r.Measure(ctx, calibration.MeasureOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Measure after cancel: %v, want context.Canceled", err)
	}
	if _, err := calibration.NewRunner(ctx, smallTarget(t, smallSets[1].lit, 2, 0), 1); !errors.Is(err, context.Canceled) {
		t.Errorf("NewRunner after cancel: %v, want context.Canceled", err)
	}
}

func TestTFHEParametersRefuses(t *testing.T) {
	ok := fhe.ParamsLiteral{GLWERank: 2, LogPolyDegree: 10, LWEDimension: 802, BRLevel: 1, BRLogBase: 23, KSLevel: 3, KSLogBase: 4}
	cases := []struct {
		name      string
		lit       fhe.ParamsLiteral
		precision int
		lweStd    float64
		want      string
	}{
		{"n above kN", fhe.ParamsLiteral{GLWERank: 1, LogPolyDegree: 9, LWEDimension: 600, BRLevel: 1, BRLogBase: 20, KSLevel: 3, KSLogBase: 4}, 2, 0, "lwe_dimension 600 larger than k·N = 512"},
		{"N below tfhe-go's FFT", fhe.ParamsLiteral{GLWERank: 40 / 8, LogPolyDegree: 3, LWEDimension: 32, BRLevel: 1, BRLogBase: 20, KSLevel: 3, KSLogBase: 4}, 1, smallStdDev, "log2_polynomial_size 3"},
		{"precision too large for N", ok, 10, 0, "precision 10 outside 1..9"},
		{"precision zero", ok, 0, 0, "precision 0 outside"},
		{"insecure n without std dev", fhe.ParamsLiteral{GLWERank: 1, LogPolyDegree: 9, LWEDimension: 200, BRLevel: 1, BRLogBase: 20, KSLevel: 3, KSLogBase: 4}, 2, 0, "lwe_dimension 200"},
		{"negative std dev", ok, 4, -1, "negative or NaN standard deviation"},
		{"NaN std dev", ok, 4, math.NaN(), "negative or NaN standard deviation"},
		{"norm too large", ok, 4, 0, "log2_norm2 41 outside 0..40"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := c.lit.Compile()
			if err != nil {
				t.Fatal(err)
			}
			tg := calibration.Target{Params: p, Precision: c.precision, LWEStdDev: c.lweStd, GLWEStdDev: c.lweStd}
			if strings.HasPrefix(c.name, "norm") {
				tg.Log2Norm2 = 41
			}
			_, err = calibration.TFHEParameters(tg)
			if !errors.Is(err, calibration.ErrRefused) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want ErrRefused mentioning %q", err, c.want)
			}
			if _, err := calibration.NewRunner(context.Background(), tg, 1); !errors.Is(err, calibration.ErrRefused) {
				t.Errorf("NewRunner: %v, want ErrRefused", err)
			}
		})
	}
	t.Run("zero set", func(t *testing.T) {
		_, err := calibration.TFHEParameters(calibration.Target{Precision: 2})
		if !errors.Is(err, calibration.ErrRefused) {
			t.Errorf("error %v, want ErrRefused", err)
		}
	})
}

func TestTFHEParametersMapsSet(t *testing.T) {
	p := fhe.ParamsLiteral{GLWERank: 2, LogPolyDegree: 10, LWEDimension: 802, BRLevel: 1, BRLogBase: 23, KSLevel: 3, KSLogBase: 4}.MustCompile()
	lit, err := calibration.TFHEParameters(calibration.Target{Params: p, Precision: 4})
	if err != nil {
		t.Fatal(err)
	}
	wantLWE, _ := fhe.MinStdDevTorus(802, fhe.DefaultSecurity)
	wantGLWE, _ := fhe.MinStdDevTorus(2048, fhe.DefaultSecurity)
	if lit.LWEDimension != 802 || lit.GLWERank != 2 || lit.PolyDegree != 1024 || lit.LookUpTableSize != 1024 ||
		lit.BlockSize != 1 || lit.MessageModulus != 16 || lit.BlindRotateParameters.Base != 1<<23 ||
		lit.BlindRotateParameters.Level != 1 || lit.KeySwitchParameters.Base != 1<<4 || lit.KeySwitchParameters.Level != 3 ||
		lit.LWEStdDev != wantLWE || lit.GLWEStdDev != wantGLWE || lit.BootstrapOrder != 0 {
		t.Errorf("mapped %+v", lit)
	}
}
