package calibration_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/fhe/calibration"
)

// count returns a term's work count for p.
func count(t testing.TB, name string, p fhe.Params) float64 {
	t.Helper()
	for _, term := range calibration.Terms {
		if term.Name == name {
			return term.Count(p)
		}
	}
	t.Fatalf("no term %q", name)
	return 0
}

// randomSets returns n distinct valid sets drawn from a seeded generator.
func randomSets(t testing.TB, n int, seed uint64) []fhe.Params {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	seen := map[fhe.ParamsLiteral]bool{}
	var out []fhe.Params
	for len(out) < n {
		lbr, lks := 1+rng.IntN(3), 2+rng.IntN(7)
		lit := fhe.ParamsLiteral{GLWERank: 1 + rng.IntN(4), LogPolyDegree: 8 + rng.IntN(7), LWEDimension: 500 + rng.IntN(600),
			BRLevel: lbr, BRLogBase: 36 / lbr, KSLevel: lks, KSLogBase: 20 / lks}
		if lit.GLWERank<<lit.LogPolyDegree <= lit.LWEDimension || seen[lit] {
			continue
		}
		seen[lit] = true
		out = append(out, lit.MustCompile())
	}
	return out
}

// truth is a model with known coefficients over the default terms.
var truth = calibration.Model{
	Terms: []string{"ks_mac", "ks_call", "br_fwd", "br_inv", "br_mac"},
	Coef:  []float64{2.6e-7, 0.004, 1.3e-7, 1.8e-7, 4.1e-7},
}

// synthetic measures the sets with the true model, each time scaled by 1 + noise·u,
// u uniform in [−1, 1).
func synthetic(t testing.TB, sets []fhe.Params, noise float64, seed uint64) []calibration.Point {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 2))
	pts := make([]calibration.Point, len(sets))
	for i, p := range sets {
		ks := truth.Coef[0]*count(t, "ks_mac", p) + truth.Coef[1]
		pbs := truth.Coef[2]*count(t, "br_fwd", p) + truth.Coef[3]*count(t, "br_inv", p) + truth.Coef[4]*count(t, "br_mac", p)
		ks *= 1 + noise*(2*rng.Float64()-1)
		pbs *= 1 + noise*(2*rng.Float64()-1)
		pts[i] = calibration.Point{Params: p, KSMS: ks, PBSMS: pbs, MS: ks + pbs}
	}
	return pts
}

func TestFitRecoversCoefficients(t *testing.T) {
	sets := randomSets(t, 24, 5)
	cases := []struct {
		name        string
		noise       float64
		coefTol     float64
		looMedian   float64
		looMaxBelow float64
	}{
		{"exact", 0, 1e-6, 1e-6, 1e-6},
		{"2% noise", 0.02, 0.15, 0.03, 0.06},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pts := synthetic(t, sets, c.noise, 9)
			m, err := calibration.Fit(calibration.DefaultTerms, pts)
			if err != nil {
				t.Fatal(err)
			}
			for i, name := range truth.Terms {
				j := indexOf(m.Terms, name)
				if j < 0 {
					t.Fatalf("fitted terms %v lack %s", m.Terms, name)
				}
				if rel := math.Abs(m.Coef[j]-truth.Coef[i]) / truth.Coef[i]; rel > c.coefTol {
					t.Errorf("%s: fitted %g, true %g (%.2g off)", name, m.Coef[j], truth.Coef[i], rel)
				}
			}
			loo, err := calibration.LeaveOneOut(calibration.DefaultTerms, pts)
			if err != nil {
				t.Fatal(err)
			}
			if len(loo.Errors) != len(pts) || loo.Median > c.looMedian || loo.Max > c.looMaxBelow {
				t.Errorf("leave-one-out median %g, max %g over %d (want ≤ %g, ≤ %g)", loo.Median, loo.Max, len(loo.Errors), c.looMedian, c.looMaxBelow)
			}
		})
	}
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

func TestFitKeepsCoefficientsNonNegative(t *testing.T) {
	// Times made by FFT work alone: an extra per-call term would fit a negative
	// intercept if allowed (the times are shifted down by a constant), NNLS keeps it at 0.
	sets := randomSets(t, 16, 11)
	pts := make([]calibration.Point, len(sets))
	for i, p := range sets {
		pbs := 2e-7*count(t, "br_fft", p) - 0.05
		ks := 3e-7 * count(t, "ks_mac", p)
		pts[i] = calibration.Point{Params: p, KSMS: ks, PBSMS: pbs, MS: ks + pbs}
	}
	m, err := calibration.Fit([]string{"ks_mac", "br_fft", "br_call"}, pts)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range m.Coef {
		if c < 0 {
			t.Errorf("%s coefficient %g < 0", m.Terms[i], c)
		}
	}
	if c := m.Coef[indexOf(m.Terms, "br_call")]; c != 0 {
		t.Errorf("br_call %g, want 0 (the data asks for a negative constant)", c)
	}
}

func TestFitRefuses(t *testing.T) {
	pts := synthetic(t, randomSets(t, 6, 3), 0, 1)
	zero := append([]calibration.Point(nil), pts...)
	zero[2].PBSMS = 0
	cases := []struct {
		name  string
		terms []string
		pts   []calibration.Point
	}{
		{"no terms", nil, pts},
		{"unknown term", []string{"ks_mac", "warp_drive"}, pts},
		{"fewer points than terms", calibration.DefaultTerms, pts[:2]},
		{"zero time", calibration.DefaultTerms, zero},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := calibration.Fit(c.terms, c.pts); !errors.Is(err, calibration.ErrFit) {
				t.Errorf("Fit: %v, want ErrFit", err)
			}
		})
	}
	if _, err := calibration.LeaveOneOut(calibration.DefaultTerms, pts[:1]); !errors.Is(err, calibration.ErrFit) {
		t.Errorf("LeaveOneOut of one point: %v, want ErrFit", err)
	}
}

func TestModelValidate(t *testing.T) {
	cases := []struct {
		name string
		m    calibration.Model
		ok   bool
	}{
		{"truth", truth, true},
		{"length mismatch", calibration.Model{Terms: []string{"ks_mac"}, Coef: []float64{1, 2}}, false},
		{"negative", calibration.Model{Terms: []string{"ks_mac"}, Coef: []float64{-1}}, false},
		{"NaN", calibration.Model{Terms: []string{"ks_mac"}, Coef: []float64{math.NaN()}}, false},
		{"all zero", calibration.Model{Terms: []string{"ks_mac"}, Coef: []float64{0}}, false},
		{"unknown", calibration.Model{Terms: []string{"nope"}, Coef: []float64{1}}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.m.Validate()
			if c.ok != (err == nil) {
				t.Errorf("Validate: %v, want ok=%v", err, c.ok)
			}
			if err != nil && !errors.Is(err, calibration.ErrBadProfile) {
				t.Errorf("error %v does not wrap ErrBadProfile", err)
			}
		})
	}
}

// withParallel sets a measurement's throughput run to a wall time of wall ms per
// bootstrap and worker, with a median thread CPU time of one bootstrap 10% below it
// (which the fit must not use).
func withParallel(m *calibration.Measurement, wall float64) {
	m.ThroughputPerS = 1000 * float64(m.Workers) / wall
	m.ParallelMS = 0.9 * wall
}

func TestBuildFitsParallelModel(t *testing.T) {
	sets := randomSets(t, 12, 21)
	pts := synthetic(t, sets, 0, 4)
	ms := make([]calibration.Measurement, len(pts))
	for i, pt := range pts {
		mb := calibration.KeyBytes(pt.Params) / 1e6
		ms[i] = calibration.Measurement{Set: pt.Params.Literal(), MS: pt.MS, KSMS: pt.KSMS, PBSMS: pt.PBSMS,
			Workers: 2, DotNSPerCoef: float64(i + 1), Bootstraps: 10, Wrong: i % 2, PError: 1e-3}
		withParallel(&ms[i], 1.25*pt.MS+0.01*mb)
		if got, want := ms[i].ParallelWallMS(), 1.25*pt.MS+0.01*mb; math.Abs(got-want) > 1e-9*want {
			t.Fatalf("ParallelWallMS %g, want %g", got, want)
		}
	}
	pr, err := calibration.Build(ms, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pm := pr.Parallel; pm.Workers != 2 || math.Abs(pm.Scale-1.25) > 1e-6 || math.Abs(pm.MSPerMB-0.01) > 1e-8 {
		t.Errorf("parallel model %+v, want 2 workers, scale 1.25, 0.01 ms/MB (from the wall time)", pm)
	}
	if pr.DotNSPerCoef != 6.5 || pr.Bootstraps != 120 || pr.Wrong != 6 || math.Abs(pr.ExpectedWrong-0.12) > 1e-12 {
		t.Errorf("dot %g, bootstraps %d, wrong %d, expected wrong %g", pr.DotNSPerCoef, pr.Bootstraps, pr.Wrong, pr.ExpectedWrong)
	}
	// A faster parallel run than the single-core one (noise) gives no slowdown, not a
	// speed-up.
	for i := range ms {
		withParallel(&ms[i], 0.9*ms[i].MS)
	}
	if pr, err = calibration.Build(ms, nil); err != nil || pr.Parallel.Scale != 1 || pr.Parallel.MSPerMB != 0 {
		t.Errorf("parallel model %+v, error %v; want scale 1, 0 ms/MB", pr.Parallel, err)
	}
	// With a single-core reference of the same moment, the scale compares the parallel
	// run with it: a machine 20% slower during the throughput runs than over the whole
	// calibration (MS) does not move the scale.
	for i, pt := range pts {
		ref := 1.2 * pt.MS
		ms[i].ParallelRefMS = ref
		withParallel(&ms[i], 1.1*ref+0.02*calibration.KeyBytes(pt.Params)/1e6)
	}
	pr, err = calibration.Build(ms, nil)
	if pm := pr.Parallel; err != nil || math.Abs(pm.Scale-1.1) > 1e-6 || math.Abs(pm.MSPerMB-0.02) > 1e-8 {
		t.Errorf("parallel model %+v, error %v; want scale 1.1, 0.02 ms/MB from the same-moment reference", pm, err)
	}
	// A measurement without a throughput run has no wall time and does not count.
	if m := (calibration.Measurement{Workers: 2, ParallelMS: 5}); m.ParallelWallMS() != 0 {
		t.Errorf("ParallelWallMS without a throughput run: %g", m.ParallelWallMS())
	}
}
