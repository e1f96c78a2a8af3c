package tpe

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"

	gtpe "github.com/c-bata/goptuna/tpe"

	"github.com/fhetune/fhetune/search"
)

// mixture is a Gaussian mixture truncated to [lo, hi].
type mixture struct {
	w, mu, sigma []float64
	lo, hi       float64
	logAccept    float64   // log Σ w_i·(Φ_i(hi) − Φ_i(lo)), the mass inside [lo, hi]
	logW         []float64 // log w_i
	logNorm      []float64 // log w_i − log σ_i − log √(2π)
	terms        []float64 // scratch space of the log densities
}

// newMixture fits goptuna's Parzen estimator to the observations obs (oldest first) over
// [lo, hi]. The estimator needs sorted input (see the package doc), so the observations
// are sorted here and their age weights permuted alongside.
func (s *Sampler) newMixture(obs []float64, lo, hi float64) *mixture {
	age := s.ageWeights(len(obs))
	order := make([]int, len(obs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(obs[a], obs[b]) })
	sorted := make([]float64, len(obs))
	weights := make([]float64, len(obs))
	for k, i := range order {
		sorted[k], weights[k] = obs[i], age[i]
	}
	est := gtpe.NewParzenEstimator(sorted, lo, hi, gtpe.ParzenEstimatorParams{
		ConsiderPrior:     true,
		PriorWeight:       s.priorWeight,
		ConsiderMagicClip: true,
		ConsiderEndpoints: false,
		Weights:           func(int) []float64 { return weights },
	})
	m := &mixture{w: est.Weights, mu: est.Mus, sigma: est.Sigmas, lo: lo, hi: hi}
	m.logW = make([]float64, len(m.w))
	m.logNorm = make([]float64, len(m.w))
	m.terms = make([]float64, len(m.w))
	accept := 0.0
	for i := range m.w {
		m.logW[i] = math.Log(m.w[i])
		m.logNorm[i] = m.logW[i] - math.Log(m.sigma[i]) - 0.5*math.Log(2*math.Pi)
		accept += m.w[i] * normMass((lo-m.mu[i])/m.sigma[i], (hi-m.mu[i])/m.sigma[i])
	}
	m.logAccept = math.Log(accept)
	return m
}

// draw samples the truncated mixture by rejection: pick a component by weight, draw from
// it, retry outside [lo, hi]. Every component is centred inside the range with a width at
// most the range's, so a try succeeds with probability above 1/3; after 100 failures the
// last draw is clipped.
func (m *mixture) draw(rng *rand.Rand) float64 {
	var x float64
	for range 100 {
		u, i := rng.Float64(), 0
		for i < len(m.w)-1 && u >= m.w[i] {
			u -= m.w[i]
			i++
		}
		x = m.mu[i] + m.sigma[i]*rng.NormFloat64()
		if m.lo <= x && x < m.hi {
			return x
		}
	}
	return min(max(x, m.lo), m.hi)
}

// logPDF is the log density of the truncated mixture at x.
func (m *mixture) logPDF(x float64) float64 {
	for i := range m.w {
		z := (x - m.mu[i]) / m.sigma[i]
		m.terms[i] = m.logNorm[i] - 0.5*z*z
	}
	return logSumExp(m.terms) - m.logAccept
}

// logMass is the log probability of the bin [a, b] under the truncated mixture. Where a
// component's mass underflows, its density at the bin's centre times the width stands in.
func (m *mixture) logMass(a, b float64) float64 {
	c, logWidth := (a+b)/2, math.Log(b-a)
	for i := range m.w {
		mass := normMass((a-m.mu[i])/m.sigma[i], (b-m.mu[i])/m.sigma[i])
		if mass > 1e-300 {
			m.terms[i] = m.logW[i] + math.Log(mass)
		} else {
			z := (c - m.mu[i]) / m.sigma[i]
			m.terms[i] = m.logNorm[i] - 0.5*z*z + logWidth
		}
	}
	return logSumExp(m.terms) - m.logAccept
}

// normMass is Φ(b) − Φ(a) for the standard normal, accurate in both tails.
func normMass(a, b float64) float64 {
	switch {
	case a >= 0:
		return 0.5 * (math.Erfc(a/math.Sqrt2) - math.Erfc(b/math.Sqrt2))
	case b <= 0:
		return 0.5 * (math.Erfc(-b/math.Sqrt2) - math.Erfc(-a/math.Sqrt2))
	}
	return 0.5 * (math.Erf(b/math.Sqrt2) - math.Erf(a/math.Sqrt2))
}

func logSumExp(x []float64) float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = max(m, v)
	}
	if math.IsInf(m, -1) {
		return m
	}
	s := 0.0
	for _, v := range x {
		s += math.Exp(v - m)
	}
	return m + math.Log(s)
}

// sampleNumeric is TPE for Int, Float and LogFloat parameters.
func (s *Sampler) sampleNumeric(p search.Param, below, above []float64, rng *rand.Rand) float64 {
	lo, hi, q := p.Low, p.High, 0.0
	switch {
	case p.Kind == search.LogFloat:
		lo, hi = math.Log(p.Low), math.Log(p.High)
		for i := range below {
			below[i] = math.Log(below[i])
		}
		for i := range above {
			above[i] = math.Log(above[i])
		}
	case p.Count() > 0: // Int or stepped Float: one bin of width q per grid value
		q = p.Value(1) - p.Value(0)
		lo, hi = p.Value(0)-q/2, p.Value(p.Count()-1)+q/2
	}
	l, g := s.newMixture(below, lo, hi), s.newMixture(above, lo, hi)
	best, bestScore := 0.0, math.Inf(-1)
	var seen map[float64]float64 // scores of grid values already scored
	if q > 0 {
		seen = make(map[float64]float64, s.candidates)
	}
	for k := 0; k < s.candidates; k++ {
		x := l.draw(rng)
		var score float64
		if q > 0 {
			x = p.Snap(x)
			var ok bool
			if score, ok = seen[x]; !ok {
				a, b := max(x-q/2, lo), min(x+q/2, hi)
				score = l.logMass(a, b) - g.logMass(a, b)
				seen[x] = score
			}
		} else {
			score = l.logPDF(x) - g.logPDF(x)
		}
		if k == 0 || score > bestScore {
			best, bestScore = x, score
		}
	}
	if p.Kind == search.LogFloat {
		best = math.Exp(best)
	}
	return p.Snap(best)
}

// sampleCategorical is TPE for a categorical parameter with n choices: the below and
// above distributions are the age-weighted choice counts plus the prior weight on every
// choice; candidates are drawn from the below one and scored by the log ratio.
func (s *Sampler) sampleCategorical(n int, below, above []float64, rng *rand.Rand) float64 {
	dist := func(obs []float64) []float64 {
		p := make([]float64, n)
		for k := range p {
			p[k] = s.priorWeight
		}
		age := s.ageWeights(len(obs))
		for i, v := range obs {
			p[int(v)] += age[i]
		}
		total := 0.0
		for _, x := range p {
			total += x
		}
		for k := range p {
			p[k] /= total
		}
		return p
	}
	l, g := dist(below), dist(above)
	best, bestScore := 0, math.Inf(-1)
	for k := 0; k < s.candidates; k++ {
		u, c := rng.Float64(), 0
		for c < n-1 && u >= l[c] {
			u -= l[c]
			c++
		}
		if score := math.Log(l[c]) - math.Log(g[c]); k == 0 || score > bestScore {
			best, bestScore = c, score
		}
	}
	return float64(best)
}
