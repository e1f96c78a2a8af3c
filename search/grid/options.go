package grid

import "fmt"

// Option configures a [Sampler] built by [New]; an invalid value makes New fail with
// ErrOption.
type Option func(*Sampler) error

// WithSeed sets the seed of the visiting order (default 0).
func WithSeed(seed int64) Option {
	return func(s *Sampler) error {
		s.seed = seed
		return nil
	}
}

// WithPoints sets the number of points on the axis of each continuous parameter (Float
// without step, LogFloat), at least 2 (default 5). Discrete parameters always contribute
// all their values.
func WithPoints(n int) Option {
	return func(s *Sampler) error {
		if n < 2 {
			return fmt.Errorf("%w: %d points per axis, want at least 2", ErrOption, n)
		}
		s.points = n
		return nil
	}
}

// WithShuffle chooses between a seeded random visiting order (true, the default) and
// lexicographic order (false).
func WithShuffle(shuffle bool) Option {
	return func(s *Sampler) error {
		s.shuffle = shuffle
		return nil
	}
}

// WithMaxSize sets the largest grid accepted, between 1 and 2^31−1 (default 1,000,000).
// A shuffled grid keeps a permutation of 4 bytes per point.
func WithMaxSize(n int) Option {
	return func(s *Sampler) error {
		if n < 1 || n > 1<<31-1 {
			return fmt.Errorf("%w: max size %d, want 1 … 2^31−1", ErrOption, n)
		}
		s.maxSize = n
		return nil
	}
}
