package tpe

import (
	"math"
	"slices"
	"testing"

	"github.com/fhetune/fhetune/search"
)

// TestMixtureIsADensity checks the goptuna estimator as this package calls it: components
// come out sorted with the prior among them, the truncated density integrates to 1 and
// the bin masses of a discrete range sum to 1.
func TestMixtureIsADensity(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	obs := []float64{3, 1, 2, 0.5, 3.5, 1.2, 0.1, 2.2, 2.9, 1.7, 0.4, 3.3, 0.9, 2.5, 1.1,
		3.8, 0.2, 1.9, 2.7, 3.1, 0.6, 1.4, 2.1, 3.6, 0.8, 1.6, 2.4, 3.9, 0.3, 2.8}
	in := slices.Clone(obs)
	m := s.newMixture(obs, 0, 4)
	if !slices.Equal(obs, in) {
		t.Error("newMixture modified its input")
	}
	if len(m.mu) != len(obs)+1 || !slices.IsSorted(m.mu) {
		t.Fatalf("components %v: want %d sorted means", m.mu, len(obs)+1)
	}
	sum := 0.0
	for _, w := range m.w {
		sum += w
	}
	if math.Abs(sum-1) > 1e-12 {
		t.Errorf("weights sum to %v", sum)
	}
	// Midpoint rule over [0, 4].
	const n = 200000
	integral := 0.0
	for i := range n {
		integral += math.Exp(m.logPDF(4*(float64(i)+0.5)/n)) * 4 / n
	}
	if math.Abs(integral-1) > 1e-6 {
		t.Errorf("density integrates to %v", integral)
	}
	mass := 0.0
	for k := 0; k < 4; k++ {
		mass += math.Exp(m.logMass(float64(k), float64(k+1)))
	}
	if math.Abs(mass-1) > 1e-9 {
		t.Errorf("bin masses sum to %v", mass)
	}
	// Far tails stay finite.
	far := &mixture{w: []float64{1}, mu: []float64{0}, sigma: []float64{0.01}, lo: -1, hi: 100,
		logW: []float64{0}, logNorm: []float64{-math.Log(0.01) - 0.5*math.Log(2*math.Pi)}, terms: make([]float64, 1)}
	if v := far.logMass(50, 51); math.IsNaN(v) || math.IsInf(v, 0) {
		t.Errorf("log mass far in the tail = %v", v)
	}
	// Draws stay in range.
	rng := search.NewRand(1, 1)
	for range 1000 {
		if x := m.draw(rng); x < 0 || x >= 4 {
			t.Fatalf("draw %v outside [0, 4)", x)
		}
	}
}

func TestNormMass(t *testing.T) {
	cases := []struct{ a, b, want float64 }{
		{math.Inf(-1), math.Inf(1), 1},
		{0, math.Inf(1), 0.5},
		{-1, 1, 0.6826894921370859},
		{8, 9, 6.220960574271784e-16 - 1.1285884059538408e-19},
	}
	for _, c := range cases {
		if got := normMass(c.a, c.b); math.Abs(got-c.want) > 1e-12*math.Max(c.want, 1e-4) {
			t.Errorf("normMass(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
