package nsga2

import (
	"fmt"
	"math"
)

// Option configures a [Sampler] built by [New]; an invalid value makes New fail with
// ErrOption.
type Option func(*Sampler) error

// WithSeed sets the seed (default 0).
func WithSeed(seed int64) Option {
	return func(s *Sampler) error {
		s.seed = seed
		return nil
	}
}

// WithPopulation sets the population size, at least 2 (default 50). Trial n belongs to
// generation n / size.
func WithPopulation(size int) Option {
	return func(s *Sampler) error {
		if size < 2 {
			return fmt.Errorf("%w: population %d, want at least 2", ErrOption, size)
		}
		s.population = size
		return nil
	}
}

// WithCrossoverProb sets the probability that a child is a crossover of its two parents
// rather than a copy of the first, in [0, 1] (default 0.9).
func WithCrossoverProb(p float64) Option {
	return func(s *Sampler) error {
		if !(p >= 0 && p <= 1) {
			return fmt.Errorf("%w: crossover probability %v, want [0, 1]", ErrOption, p)
		}
		s.crossoverProb = p
		return nil
	}
}

// WithCrossoverEta sets the distribution index eta_c of SBX, ≥ 0 (default 10): larger
// values keep children closer to their parents.
func WithCrossoverEta(eta float64) Option {
	return func(s *Sampler) error {
		if !(eta >= 0) || math.IsInf(eta, 0) {
			return fmt.Errorf("%w: crossover eta %v, want a finite value ≥ 0", ErrOption, eta)
		}
		s.crossoverEta = eta
		return nil
	}
}

// WithMutationEta sets the distribution index eta_m of polynomial mutation, ≥ 0 (default
// 10): larger values make smaller mutations.
func WithMutationEta(eta float64) Option {
	return func(s *Sampler) error {
		if !(eta >= 0) || math.IsInf(eta, 0) {
			return fmt.Errorf("%w: mutation eta %v, want a finite value ≥ 0", ErrOption, eta)
		}
		s.mutationEta = eta
		return nil
	}
}

// WithMutationProb sets the probability that each parameter of a child mutates, in
// [0, 1] (default 1/(number of parameters)).
func WithMutationProb(p float64) Option {
	return func(s *Sampler) error {
		if !(p >= 0 && p <= 1) {
			return fmt.Errorf("%w: mutation probability %v, want [0, 1]", ErrOption, p)
		}
		s.mutationProb = p
		return nil
	}
}
