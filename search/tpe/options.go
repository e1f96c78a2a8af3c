package tpe

import (
	"fmt"
	"math"
	"slices"

	gtpe "github.com/c-bata/goptuna/tpe"
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

// WithStartupTrials sets how many usable Complete trials must exist before TPE takes over
// from random sampling, ≥ 0 (default 10).
func WithStartupTrials(n int) Option {
	return func(s *Sampler) error {
		if n < 0 {
			return fmt.Errorf("%w: %d start-up trials", ErrOption, n)
		}
		s.startup = n
		return nil
	}
}

// WithCandidates sets how many candidates are drawn from the below estimator per
// parameter, ≥ 1 (default 24). More candidates exploit more, fewer explore more.
func WithCandidates(n int) Option {
	return func(s *Sampler) error {
		if n < 1 {
			return fmt.Errorf("%w: %d candidates, want at least 1", ErrOption, n)
		}
		s.candidates = n
		return nil
	}
}

// WithGamma sets the function giving the size of the below group from the number of
// usable trials (default goptuna's tpe.DefaultGamma, ⌈n/10⌉ capped at 25). Results are
// clipped to [1, n].
func WithGamma(gamma gtpe.FuncGamma) Option {
	return func(s *Sampler) error {
		if gamma == nil {
			return fmt.Errorf("%w: nil gamma function", ErrOption)
		}
		s.gamma = gamma
		return nil
	}
}

// WithObjective makes the score objective j (0-based) alone, in its direction; it
// replaces an earlier WithWeightedSum. Needed when the study has several objectives.
func WithObjective(j int) Option {
	return func(s *Sampler) error {
		if j < 0 {
			return fmt.Errorf("%w: objective %d", ErrOption, j)
		}
		s.objective, s.weights, s.explicit = j, nil, true
		return nil
	}
}

// WithWeightedSum makes the score Σ w_j·s_j·v_j (minimized; s_j = −1 for maximized
// objectives), one finite weight per objective; it replaces an earlier WithObjective.
func WithWeightedSum(w ...float64) Option {
	return func(s *Sampler) error {
		if len(w) == 0 {
			return fmt.Errorf("%w: no weights", ErrOption)
		}
		for j, x := range w {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("%w: weight %d is %v", ErrOption, j, x)
			}
		}
		s.objective, s.weights, s.explicit = -1, slices.Clone(w), true
		return nil
	}
}
