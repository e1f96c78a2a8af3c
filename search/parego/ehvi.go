package parego

import (
	"cmp"
	"math"
	"slices"

	"github.com/fhetune/fhetune/search"
)

// ehviRef is the reference point of the expected hypervolume improvement in each
// normalized objective: a tenth of the range beyond the worst value, as fhetune's
// hypervolume places it.
const ehviRef = 1.1

// modelValues returns each trial's objectives in the space the per-objective models and
// the expected hypervolume improvement work in, lower better and normalized to [0, 1]
// over obs: an objective whose values all lie in [0, 1] (a share such as accuracy) is
// taken as its logit, clamped to [1e-3, 1 − 1e-3], so that the steep fall of accuracy at
// few bits and the last points near 1 are both visible to a smooth model; one whose
// positive values span more than two decades (a latency) in log scale.
func modelValues(obs []search.Trial, dirs []search.Direction) [][]float64 {
	f := make([][]float64, len(obs))
	for i := range f {
		f[i] = make([]float64, len(dirs))
	}
	for j, dir := range dirs {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, t := range obs {
			lo, hi = min(lo, t.Values[j]), max(hi, t.Values[j])
		}
		tr := func(v float64) float64 { return v }
		switch {
		case lo >= 0 && hi <= 1:
			tr = logit
		case lo > 0 && hi/lo > 100:
			tr = math.Log
		}
		sign := 1.0
		if dir == search.Maximize {
			sign = -1
		}
		lo, hi = math.Inf(1), math.Inf(-1)
		for i, t := range obs {
			f[i][j] = sign * tr(t.Values[j])
			lo, hi = min(lo, f[i][j]), max(hi, f[i][j])
		}
		for i := range f {
			if hi > lo {
				f[i][j] = (f[i][j] - lo) / (hi - lo)
			} else {
				f[i][j] = 0
			}
		}
	}
	return f
}

// logit is log(a / (1 − a)) with a clamped to [1e-3, 1 − 1e-3].
func logit(a float64) float64 {
	a = min(max(a, 1e-3), 1-1e-3)
	return math.Log(a / (1 - a))
}

// front2 returns the indices of the non-dominated points of f (two objectives, lower
// better) by increasing first objective, hence decreasing second; of equal points only
// the first is kept.
func front2(f [][]float64) []int {
	order := make([]int, len(f))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if c := cmp.Compare(f[a][0], f[b][0]); c != 0 {
			return c
		}
		return cmp.Compare(f[a][1], f[b][1])
	})
	var out []int
	best := math.Inf(1)
	for _, i := range order {
		if f[i][1] < best {
			out = append(out, i)
			best = f[i][1]
		}
	}
	return out
}

// ehvi2 returns the expected hypervolume improvement, for minimization, of a point whose
// two objectives are independent Gaussians N(mu[j], sd[j]²) over front (non-dominated,
// by increasing first objective) with reference point ref. Hand-written, in closed form:
// the region the front leaves undominated below ref is cut into vertical strips
// [l_i, u_i) × (−∞, h_i), the improvement in strip i is (u_i − max(y₁, l_i))⁺ (h_i − y₂)⁺,
// and with ψ(t) = E[(t − Y)⁺] = (t − μ)Φ((t − μ)/σ) + σφ((t − μ)/σ) its expectation is
// (ψ₁(u_i) − ψ₁(l_i)) ψ₂(h_i), so
//
//	EHVI = Σ_{i=0}^{k} (ψ₁(u_i) − ψ₁(l_i)) ψ₂(h_i),
//
// with l_0 = −∞, u_i the first objective of front point i+1 (ref[0] for the last strip)
// and h_i the second objective of front point i (ref[1] for the first strip). This is
// the formula of Emmerich, Deutz and Klinkenberg (CEC 2011) in strip form.
func ehvi2(front [][]float64, ref [2]float64, mu, sd [2]float64) float64 {
	e := 0.0
	for i := 0; i <= len(front); i++ {
		l, h := math.Inf(-1), ref[1]
		if i > 0 {
			l, h = front[i-1][0], front[i-1][1]
		}
		u := ref[0]
		if i < len(front) {
			u = front[i][0]
		}
		if u <= l {
			continue
		}
		e += (psi(u, mu[0], sd[0]) - psi(l, mu[0], sd[0])) * psi(h, mu[1], sd[1])
	}
	return e
}

// psi is E[(t − Y)⁺] for Y ~ N(mu, sd²); 0 at t = −∞.
func psi(t, mu, sd float64) float64 {
	if math.IsInf(t, -1) {
		return 0
	}
	return expectedImprovement(t, mu, sd)
}
