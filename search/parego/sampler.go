package parego

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/fhetune/fhetune/search"
	"github.com/fhetune/fhetune/search/random"
)

var _ search.Sampler = (*Sampler)(nil)

// Settings of the model and the candidate search (see the package doc).
const (
	rho      = 0.05 // weight of the sum in the augmented Tchebycheff scalarization
	maxModel = 100  // trials the Gaussian process is fitted to, at most
	elite    = 5    // best trials whose perturbations are candidates
	sigma    = 0.05 // standard deviation of a perturbation, in the unit cube
)

// Sampler is the ParEGO sampler. It holds only its options and is safe for concurrent use.
type Sampler struct {
	seed       int64
	startup    int
	candidates int
}

// New returns a ParEGO sampler configured by opts (see the package doc for defaults).
func New(opts ...Option) (*Sampler, error) {
	s := &Sampler{startup: 12, candidates: 2000}
	for _, opt := range opts {
		if err := opt(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Sample returns the parameters of trial number: random while fewer than the start-up
// number of usable trials exist, then the candidate of greatest expected improvement of
// the trial's scalarization (see the package doc).
func (s *Sampler) Sample(space search.Space, dirs []search.Direction, history []search.Trial, number int) (map[string]float64, error) {
	if err := search.CheckArgs(space, dirs, number); err != nil {
		return nil, fmt.Errorf("parego: sample trial %d: %w", number, err)
	}
	obs, err := search.Completed(space, dirs, history)
	if err != nil {
		return nil, fmt.Errorf("parego: sample trial %d: %w", number, err)
	}
	rng := search.NewRand(s.seed, number)
	if len(obs) < s.startup {
		return random.Draw(space, rng), nil
	}
	y := scalarize(obs, dirs, weights(len(dirs), rng))
	order := make([]int, len(obs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(y[a], y[b]) })
	order = order[:min(len(order), maxModel)]
	X := make([][]float64, len(order))
	ys := make([]float64, len(order))
	for k, i := range order {
		X[k] = toUnit(space, obs[i].Params)
		ys[k] = y[i]
	}
	g := fitGP(X, ys)
	best := ys[0]
	var bestU []float64
	bestEI := math.Inf(-1)
	u := make([]float64, len(space.Params))
	for c := 0; c < s.candidates; c++ {
		if c%2 == 0 {
			for j := range u {
				u[j] = rng.Float64()
			}
		} else {
			base := X[rng.IntN(min(elite, len(X)))]
			for j := range u {
				u[j] = base[j]
				if rng.Float64() < 0.5 {
					u[j] = min(1, max(0, base[j]+sigma*rng.NormFloat64()))
				}
			}
		}
		for j, p := range space.Params {
			u[j] = p.ToUnit(p.FromUnit(u[j]))
		}
		mu, sd := g.predict(u)
		if ei := expectedImprovement(best, mu, sd); ei > bestEI {
			bestEI, bestU = ei, slices.Clone(u)
		}
	}
	out := make(map[string]float64, len(space.Params))
	for j, p := range space.Params {
		out[p.Name] = p.FromUnit(bestU[j])
	}
	return out, nil
}

// toUnit maps a trial's parameters into the unit cube, in the space's order.
func toUnit(space search.Space, params map[string]float64) []float64 {
	u := make([]float64, len(space.Params))
	for j, p := range space.Params {
		u[j] = p.ToUnit(params[p.Name])
	}
	return u
}

// weights draws the trial's weight vector: one of Knowles' 11 vectors for two
// objectives, uniform on the simplex otherwise.
func weights(m int, rng *rand.Rand) []float64 {
	w := make([]float64, m)
	if m == 2 {
		k := float64(rng.IntN(11))
		w[0], w[1] = k/10, 1-k/10
		return w
	}
	sum := 0.0
	for j := range w {
		w[j] = -math.Log(1 - rng.Float64())
		sum += w[j]
	}
	for j := range w {
		w[j] /= sum
	}
	return w
}

// scalarize returns the augmented Tchebycheff value of each trial for the weights w (lower
// is better): each objective normalized to [0, 1] with 0 best, in log scale when its
// positive values span more than two decades; infeasible trials get 1 + violation.
func scalarize(obs []search.Trial, dirs []search.Direction, w []float64) []float64 {
	m := len(dirs)
	f := make([][]float64, len(obs))
	for i := range f {
		f[i] = make([]float64, m)
	}
	for j, dir := range dirs {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, t := range obs {
			lo, hi = min(lo, t.Values[j]), max(hi, t.Values[j])
		}
		logScale := lo > 0 && hi/lo > 100
		if logScale {
			lo, hi = math.Log(lo), math.Log(hi)
		}
		for i, t := range obs {
			v := t.Values[j]
			if logScale {
				v = math.Log(v)
			}
			x := 0.0
			if hi > lo {
				x = (v - lo) / (hi - lo)
			}
			if dir == search.Maximize {
				x = 1 - x
			}
			f[i][j] = x
		}
	}
	y := make([]float64, len(obs))
	for i, t := range obs {
		if v := t.Violation(); v > 0 {
			y[i] = 1 + v
			continue
		}
		mx, sum := math.Inf(-1), 0.0
		for j := range w {
			mx = max(mx, w[j]*f[i][j])
			sum += w[j] * f[i][j]
		}
		y[i] = mx + rho*sum
	}
	return y
}

// expectedImprovement is E[max(best − Y, 0)] for Y ~ N(mu, sd²) (minimization).
func expectedImprovement(best, mu, sd float64) float64 {
	if sd <= 0 {
		return max(best-mu, 0)
	}
	z := (best - mu) / sd
	return (best-mu)*0.5*math.Erfc(-z/math.Sqrt2) + sd*math.Exp(-0.5*z*z)/math.Sqrt(2*math.Pi)
}
