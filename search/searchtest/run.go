package searchtest

import (
	"fmt"
	"math"

	"github.com/fhetune/fhetune/search"
	"github.com/fhetune/fhetune/search/pareto"
)

// Run asks s for trials 0 … n−1 in order, as one study worker would, evaluates each on p
// and appends it, Complete, to the history it passes to the next call. It returns the
// history; it fails if the sampler fails or returns values outside the space.
func Run(s search.Sampler, p Problem, n int) ([]search.Trial, error) {
	return Continue(s, p, nil, n)
}

// Continue is [Run] from an existing history: it asks for trials len(history) …
// len(history)+n−1.
func Continue(s search.Sampler, p Problem, history []search.Trial, n int) ([]search.Trial, error) {
	start := len(history)
	for number := start; number < start+n; number++ {
		params, err := s.Sample(p.Space, p.Dirs, history, number)
		if err != nil {
			return history, fmt.Errorf("sample trial %d of %s: %w", number, p.Name, err)
		}
		if err := p.Space.Check(params); err != nil {
			return history, fmt.Errorf("%w: trial %d of %s: %w", ErrBadSample, number, p.Name, err)
		}
		values, constraints := p.Eval(params)
		history = append(history, search.Trial{
			Number: number, State: search.Complete, Params: params,
			Values: values, Constraints: constraints,
		})
	}
	return history, nil
}

// Hypervolume is the hypervolume of the feasible Complete trials of history for the
// reference point ref.
func Hypervolume(history []search.Trial, dirs []search.Direction, ref []float64) float64 {
	var pts [][]float64
	for _, t := range history {
		if t.State == search.Complete && t.Feasible() {
			pts = append(pts, t.Values)
		}
	}
	return pareto.Hypervolume(pts, ref, dirs)
}

// Best returns the lowest first objective value among the feasible Complete trials of
// history (+Inf if there is none).
func Best(history []search.Trial) float64 {
	best := math.Inf(1)
	for _, t := range history {
		if t.State == search.Complete && t.Feasible() && t.Values[0] < best {
			best = t.Values[0]
		}
	}
	return best
}

// RandomHistory returns n Complete trials of p with parameters drawn from their priors
// (seeded by seed), numbered 0 … n−1: a history for benchmarks.
func RandomHistory(p Problem, n int, seed int64) []search.Trial {
	h := make([]search.Trial, n)
	for i := range h {
		rng := search.NewRand(seed, i)
		params := make(map[string]float64, len(p.Space.Params))
		for _, q := range p.Space.Params {
			params[q.Name] = q.Uniform(rng)
		}
		values, constraints := p.Eval(params)
		h[i] = search.Trial{Number: i, State: search.Complete, Params: params, Values: values, Constraints: constraints}
	}
	return h
}
