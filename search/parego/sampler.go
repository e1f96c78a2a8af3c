package parego

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/fhetune/fhetune/search"
	"github.com/fhetune/fhetune/search/pareto"
	"github.com/fhetune/fhetune/search/random"
)

var _ search.Sampler = (*Sampler)(nil)

// Settings of the model and the candidate search (see the package doc).
const (
	rho      = 0.05 // weight of the sum in the augmented Tchebycheff scalarization
	maxModel = 100  // trials the Gaussian process is fitted to, at most
	elite    = 5    // best trials whose perturbations are candidates (ParEGO)
	sigma    = 0.05 // standard deviation of a perturbation, in the unit cube
)

// Sampler is the package's Gaussian-process sampler (EHVI or ParEGO, see the package
// doc). It holds only its options and is safe for concurrent use.
type Sampler struct {
	seed        int64
	startup     int
	candidates  int
	acquisition Acquisition
}

// New returns a sampler configured by opts (see the package doc for defaults).
func New(opts ...Option) (*Sampler, error) {
	s := &Sampler{startup: 12, candidates: 2000, acquisition: EHVI}
	for _, opt := range opts {
		if err := opt(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Sample returns the parameters of trial number: random while fewer than the start-up
// number of usable trials exist, then the candidate that maximizes the acquisition (the
// expected hypervolume improvement or the expected improvement of the trial's
// scalarization) times the estimated probability that its evaluation does not fail (see
// the package doc).
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
	var (
		X      [][]float64
		elites [][]float64
		score  func(u []float64) float64
	)
	if s.acquisition == EHVI && len(dirs) == 2 && allFeasible(obs) {
		X, elites, score = ehviAcquisition(space, dirs, obs)
	} else {
		X, elites, score = tchebycheffAcquisition(space, dirs, obs, weights(len(dirs), rng))
	}
	fm := fitFailures(X, failed(space, history))
	bestU := s.argmax(space, rng, elites, func(u []float64) float64 { return score(u) * fm.prob(u) })
	out := make(map[string]float64, len(space.Params))
	for j, p := range space.Params {
		out[p.Name] = p.FromUnit(bestU[j])
	}
	return out, nil
}

// argmax returns the candidate of greatest score: the candidates alternate between
// uniform points of the unit cube and Gaussian perturbations of a random elite, each
// snapped to a value of its parameter.
func (s *Sampler) argmax(space search.Space, rng *rand.Rand, elites [][]float64, score func(u []float64) float64) []float64 {
	var bestU []float64
	best := math.Inf(-1)
	u := make([]float64, len(space.Params))
	for c := 0; c < s.candidates; c++ {
		if c%2 == 0 {
			for j := range u {
				u[j] = rng.Float64()
			}
		} else {
			base := elites[rng.IntN(len(elites))]
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
		if v := score(u); v > best || bestU == nil {
			best, bestU = v, slices.Clone(u)
		}
	}
	return bestU
}

// tchebycheffAcquisition is Knowles' ParEGO: one Gaussian process of the augmented
// Tchebycheff scalarization for weights w, fitted to the best maxModel trials, and the
// expected improvement over the best value. It returns the model's points, the elites
// (the best elite points) and the acquisition.
func tchebycheffAcquisition(space search.Space, dirs []search.Direction, obs []search.Trial, w []float64) ([][]float64, [][]float64, func([]float64) float64) {
	y := scalarize(obs, dirs, w)
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
	return X, X[:min(elite, len(X))], func(u []float64) float64 {
		mu, sd := g.predict(u)
		return expectedImprovement(best, mu, sd)
	}
}

// ehviAcquisition fits one Gaussian process per objective (two objectives, modelValues)
// to the trials of the first non-dominated fronts, at most maxModel of them, and returns
// their points, the elites (the non-dominated points) and the exact expected hypervolume
// improvement over the non-dominated points.
func ehviAcquisition(space search.Space, dirs []search.Direction, obs []search.Trial) ([][]float64, [][]float64, func([]float64) float64) {
	if len(obs) > maxModel {
		obs = bestFronts(obs, dirs, maxModel)
	}
	f := modelValues(obs, dirs)
	X := make([][]float64, len(obs))
	for i, t := range obs {
		X[i] = toUnit(space, t.Params)
	}
	var gps [2]*gp
	for j := range gps {
		y := make([]float64, len(obs))
		for i := range obs {
			y[i] = f[i][j]
		}
		gps[j] = fitGP(X, y)
	}
	idx := front2(f)
	front := make([][]float64, len(idx))
	elites := make([][]float64, len(idx))
	for k, i := range idx {
		front[k], elites[k] = f[i], X[i]
	}
	return X, elites, func(u []float64) float64 {
		var mu, sd [2]float64
		mu[0], sd[0] = gps[0].predict(u)
		mu[1], sd[1] = gps[1].predict(u)
		return ehvi2(front, [2]float64{ehviRef, ehviRef}, mu, sd)
	}
}

// bestFronts returns the trials of the first non-dominated fronts, n at most: whole
// fronts while they fit, then the earliest trials of the next.
func bestFronts(obs []search.Trial, dirs []search.Direction, n int) []search.Trial {
	vals := make([][]float64, len(obs))
	for i, t := range obs {
		vals[i] = t.Values
	}
	var out []search.Trial
	for _, fr := range pareto.Sort(vals, dirs) {
		for _, i := range fr {
			if len(out) == n {
				return out
			}
			out = append(out, obs[i])
		}
	}
	return out
}

// allFeasible reports whether no trial violates a constraint.
func allFeasible(obs []search.Trial) bool {
	for _, t := range obs {
		if t.Violation() > 0 {
			return false
		}
	}
	return true
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
