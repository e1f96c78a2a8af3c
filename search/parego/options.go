package parego

import "fmt"

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

// WithStartupTrials sets how many usable Complete trials must exist before the model
// takes over from random sampling, at least 2 (default 12).
func WithStartupTrials(n int) Option {
	return func(s *Sampler) error {
		if n < 2 {
			return fmt.Errorf("%w: %d start-up trials, want at least 2", ErrOption, n)
		}
		s.startup = n
		return nil
	}
}

// WithCandidates sets how many candidates the expected improvement is maximized over, at
// least 1 (default 2,000).
func WithCandidates(n int) Option {
	return func(s *Sampler) error {
		if n < 1 {
			return fmt.Errorf("%w: %d candidates, want at least 1", ErrOption, n)
		}
		s.candidates = n
		return nil
	}
}

// Acquisition names what the sampler maximizes after the start-up trials.
type Acquisition int

const (
	// EHVI is the expected hypervolume improvement of one Gaussian process per
	// objective, for studies of two objectives and no violated constraint; other studies
	// use Tchebycheff. The default.
	EHVI Acquisition = iota
	// Tchebycheff is Knowles' ParEGO: the expected improvement of one Gaussian process of
	// a random augmented Tchebycheff scalarization.
	Tchebycheff
)

// WithAcquisition sets the acquisition (default EHVI).
func WithAcquisition(a Acquisition) Option {
	return func(s *Sampler) error {
		if a != EHVI && a != Tchebycheff {
			return fmt.Errorf("%w: acquisition %d, want EHVI or Tchebycheff", ErrOption, int(a))
		}
		s.acquisition = a
		return nil
	}
}
