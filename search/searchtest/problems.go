package searchtest

import (
	"fmt"
	"math"

	"github.com/fhetune/fhetune/search"
)

// Problem is an objective function over a search space.
type Problem struct {
	// Name identifies the problem in test output.
	Name string
	// Space is where the problem is defined.
	Space search.Space
	// Dirs gives the direction of each objective.
	Dirs []search.Direction
	// Eval returns the objective values and the constraint values (≤ 0 feasible; nil when
	// the problem is unconstrained) of one point.
	Eval func(params map[string]float64) (values, constraints []float64)
}

// unitSpace returns n Float parameters x0 … x(n-1) on [0, 1].
func unitSpace(n int) search.Space {
	ps := make([]search.Param, n)
	for i := range ps {
		ps[i] = search.Param{Name: fmt.Sprintf("x%d", i), Kind: search.Float, Low: 0, High: 1}
	}
	return search.Space{Params: ps}
}

// zdtG is 1 + 9·mean(x1 … x(n-1)), the distance term of ZDT1 and ZDT2.
func zdtG(p map[string]float64, n int) float64 {
	s := 0.0
	for i := 1; i < n; i++ {
		s += p[fmt.Sprintf("x%d", i)]
	}
	return 1 + 9*s/float64(n-1)
}

// ZDT1 is Zitzler, Deb and Thiele's convex two-objective problem with n ≥ 2 variables on
// [0, 1]: f1 = x0, f2 = g·(1 − √(f1/g)), g = 1 + 9·Σ_{i≥1} x_i/(n−1); both minimized. Its
// front is f2 = 1 − √f1, f1 in [0, 1] (g = 1).
func ZDT1(n int) Problem {
	return Problem{
		Name:  fmt.Sprintf("ZDT1(%d)", n),
		Space: unitSpace(n),
		Dirs:  []search.Direction{search.Minimize, search.Minimize},
		Eval: func(p map[string]float64) ([]float64, []float64) {
			f1, g := p["x0"], zdtG(p, n)
			return []float64{f1, g * (1 - math.Sqrt(f1/g))}, nil
		},
	}
}

// ZDT2 is the non-convex counterpart of [ZDT1]: f2 = g·(1 − (f1/g)²); its front is
// f2 = 1 − f1².
func ZDT2(n int) Problem {
	return Problem{
		Name:  fmt.Sprintf("ZDT2(%d)", n),
		Space: unitSpace(n),
		Dirs:  []search.Direction{search.Minimize, search.Minimize},
		Eval: func(p map[string]float64) ([]float64, []float64) {
			f1, g := p["x0"], zdtG(p, n)
			return []float64{f1, g * (1 - (f1/g)*(f1/g))}, nil
		},
	}
}

// ZDT1Hypervolume is the hypervolume of ZDT1's true front for the reference point (r, r),
// r ≥ 1: ∫₀¹ (r − 1 + √x) dx + (r − 1)·r = (r − 1) + 2/3 + (r − 1)·r (0.876667 for
// r = 1.1).
func ZDT1Hypervolume(r float64) float64 { return (r - 1) + 2.0/3 + (r-1)*r }

// ZDT2Hypervolume is the hypervolume of ZDT2's true front for the reference point (r, r),
// r ≥ 1: ∫₀¹ (r − 1 + x²) dx + (r − 1)·r = (r − 1) + 1/3 + (r − 1)·r (0.543333 for
// r = 1.1).
func ZDT2Hypervolume(r float64) float64 { return (r - 1) + 1.0/3 + (r-1)*r }

// Constr is Deb's constrained two-objective problem CONSTR (Deb, Pratap, Agarwal,
// Meyarivan, 2002): minimize f1 = x1 and f2 = (1 + x2)/x1 over x1 in [0.1, 1], x2 in
// [0, 5], subject to x2 + 9·x1 ≥ 6 and 9·x1 − x2 ≥ 1, given as the constraint values
// 6 − x2 − 9·x1 ≤ 0 and 1 − 9·x1 + x2 ≤ 0. About 48% of the box is infeasible. The front is
// f2 = (7 − 9·f1)/f1 for f1 in [7/18, 2/3] (x2 = 6 − 9·x1) and f2 = 1/f1 for f1 in
// [2/3, 1] (x2 = 0).
func Constr() Problem {
	return Problem{
		Name: "CONSTR",
		Space: search.Space{Params: []search.Param{
			{Name: "x1", Kind: search.Float, Low: 0.1, High: 1},
			{Name: "x2", Kind: search.Float, Low: 0, High: 5},
		}},
		Dirs: []search.Direction{search.Minimize, search.Minimize},
		Eval: func(p map[string]float64) ([]float64, []float64) {
			x1, x2 := p["x1"], p["x2"]
			return []float64{x1, (1 + x2) / x1}, []float64{6 - x2 - 9*x1, 1 - 9*x1 + x2}
		},
	}
}

// ConstrHypervolume is the hypervolume of CONSTR's true front for the reference point
// (1.1, 10): ∫_{7/18}^{2/3} (19 − 7/x) dx + ∫_{2/3}^{1} (10 − 1/x) dx + 0.1·9
// = 19·5/18 − 7·ln(12/7) + 10/3 − ln(3/2) + 0.9 ≈ 5.33267.
func ConstrHypervolume() float64 {
	return 19*5.0/18 - 7*math.Log(12.0/7) + 10.0/3 - math.Log(1.5) + 0.9
}

// Mixed is a single-objective problem over every kind of parameter: minimize
// (x − 0.3)² + (n − 5)²/10 + (log10 e + 3)²/10 + [c ≠ "b"] over x in [−2, 2], n an
// integer in [0, 10], e log-uniform in [1e-6, 1] and c in {a, b, c}. The minimum is 0 at
// x = 0.3, n = 5, e = 1e-3, c = b.
func Mixed() Problem {
	return Problem{
		Name: "Mixed",
		Space: search.Space{Params: []search.Param{
			{Name: "x", Kind: search.Float, Low: -2, High: 2},
			{Name: "n", Kind: search.Int, Low: 0, High: 10},
			{Name: "e", Kind: search.LogFloat, Low: 1e-6, High: 1},
			{Name: "c", Kind: search.Categorical, Choices: []string{"a", "b", "c"}},
		}},
		Dirs: []search.Direction{search.Minimize},
		Eval: func(p map[string]float64) ([]float64, []float64) {
			x, n, e := p["x"], p["n"], math.Log10(p["e"])
			v := (x-0.3)*(x-0.3) + (n-5)*(n-5)/10 + (e+3)*(e+3)/10
			if p["c"] != 1 {
				v++
			}
			return []float64{v}, nil
		},
	}
}

// Knobs is a synthetic two-objective problem over a space shaped like fhetune's knobs
// (n_w_bits, n_a_bits, pruning, sparsity, rounding_threshold_bits with "off", p_error):
// maximize a made-up "accuracy" that grows with bits and falls with pruning and p_error,
// and minimize a made-up "latency" that grows with bits. It measures sampler overhead in
// benchmarks; its numbers mean nothing about FHE.
func Knobs() Problem {
	return Problem{
		Name: "Knobs",
		Space: search.Space{Params: []search.Param{
			{Name: "n_w_bits", Kind: search.Int, Low: 2, High: 8},
			{Name: "n_a_bits", Kind: search.Int, Low: 2, High: 8},
			{Name: "pruning", Kind: search.Float, Low: 0, High: 0.8, Step: 0.05},
			{Name: "sparsity", Kind: search.Float, Low: 0, High: 0.9},
			{Name: "rounding_threshold_bits", Kind: search.Categorical, Choices: []string{"off", "4", "5", "6", "7", "8"}},
			{Name: "p_error", Kind: search.LogFloat, Low: 1e-6, High: 0.1},
		}},
		Dirs: []search.Direction{search.Maximize, search.Minimize},
		Eval: func(p map[string]float64) ([]float64, []float64) {
			bits := math.Min(p["n_w_bits"], p["n_a_bits"])
			if r := p["rounding_threshold_bits"]; r > 0 {
				bits = math.Min(bits, 3+r)
			}
			acc := (1 - math.Exp(-bits/2)) * (1 - 0.3*p["pruning"]*p["pruning"]) *
				(1 - 0.2*p["sparsity"]*p["sparsity"]) * (1 - 0.5*math.Sqrt(p["p_error"]))
			lat := math.Exp2(bits) * (1 - 0.9*p["pruning"]) * (1.2 + math.Log10(p["p_error"])/10)
			return []float64{acc, lat}, nil
		},
	}
}
