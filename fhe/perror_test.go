package fhe_test

import (
	"errors"
	"math"
	"testing"

	"github.com/fhetune/fhetune/fhe"
)

func TestKappaRoundTrip(t *testing.T) {
	for _, p := range []float64{0.5, 0.1, 1e-3, fhe.ReferencePError, 1e-9, fhe.DefaultPError, 1e-100, 1e-300} {
		k := fhe.Kappa(p)
		assertRel(t, "PErrorOfKappa(Kappa(p))", fhe.PErrorOfKappa(k), p, 1e-12)
		assertRel(t, "Kappa(PErrorOfKappa(κ))", fhe.Kappa(fhe.PErrorOfKappa(k)), k, 1e-12)
	}
	// Known points: 4σ ↔ 6.334248e−5, 1.959964σ ↔ 5%.
	assertRel(t, "Kappa(6.334e-5)", fhe.Kappa(fhe.ReferencePError), 4, 1e-6)
	assertRel(t, "PErrorOfKappa(1.959964)", fhe.PErrorOfKappa(1.959963984540054), 0.05, 1e-12)
}

func TestVarianceBound(t *testing.T) {
	// 4-bit message, 2 padding bits: noise limit 2^58; at 4σ the variance bound is 2^112.
	assertRel(t, "VarianceBound(4, 4σ)", fhe.VarianceBound(4, fhe.ReferencePError), math.Exp2(112), 1e-6)
	// At the bound the error probability is the target.
	for prec := 1; prec <= 16; prec++ {
		for _, p := range []float64{1e-2, 6.3e-5, 1e-12} {
			assertRel(t, "PErrorOfVariance(bound)", fhe.PErrorOfVariance(prec, fhe.VarianceBound(prec, p)), p, 1e-10)
		}
	}
	// One more bit halves the noise limit: the bound falls by 4.
	assertRel(t, "bound ratio", fhe.VarianceBound(5, 1e-5)*4, fhe.VarianceBound(4, 1e-5), 1e-15)
}

func TestGlobalPError(t *testing.T) {
	for _, c := range []struct {
		global float64
		count  int
	}{{0.01, 1}, {0.01, 1000}, {1e-5, 12345}, {0.5, 3}, {1e-12, 1 << 20}} {
		p := fhe.PErrorPerTLU(c.global, c.count)
		assertRel(t, "GlobalPError(PErrorPerTLU)", fhe.GlobalPError(p, c.count), c.global, 1e-12)
		if c.count > 1 && !(p < c.global) {
			t.Errorf("per-TLU %g not below global %g for %d TLUs", p, c.global, c.count)
		}
	}
	// Small p: about count·p.
	assertRel(t, "GlobalPError(1e-9, 1000)", fhe.GlobalPError(1e-9, 1000), 1e-6, 1e-5)
	if fhe.GlobalPError(0.3, 0) != 0 {
		t.Error("no TLU, yet a global error")
	}
}

func TestChecks(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want error
	}{
		{"precision 0", fhe.CheckPrecision(0), fhe.ErrInvalidQuery},
		{"precision 17", fhe.CheckPrecision(17), fhe.ErrInvalidQuery},
		{"p_error 0", fhe.CheckPError("p_error", 0), fhe.ErrInvalidQuery},
		{"p_error 1", fhe.CheckPError("p_error", 1), fhe.ErrInvalidQuery},
		{"p_error NaN", fhe.CheckPError("p_error", math.NaN()), fhe.ErrInvalidQuery},
		{"security 100", fhe.CheckSecurity(100), fhe.ErrUnsupportedSecurity},
	} {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: error %v, want %v", c.name, c.err, c.want)
		}
	}
	for _, err := range []error{fhe.CheckPrecision(1), fhe.CheckPrecision(16), fhe.CheckPError("p", 0.5), fhe.CheckSecurity(128)} {
		if err != nil {
			t.Errorf("valid value refused: %v", err)
		}
	}
}

func TestNoiseStdDevInSteps(t *testing.T) {
	// Variance 2^112 at 4 bits: σ = 2^56, Δ = 2^59, σ/Δ = 1/8.
	assertRel(t, "σ/Δ", fhe.NoiseStdDevInSteps(4, math.Exp2(112)), 0.125, 1e-15)
	// At the variance bound the noise limit (half a step) is κ standard deviations.
	v := fhe.VarianceBound(5, 1e-6)
	assertRel(t, "κ·σ/Δ", fhe.Kappa(1e-6)*fhe.NoiseStdDevInSteps(5, v), 0.5, 1e-12)
}
