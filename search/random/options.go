package random

// Option configures a [Sampler] built by [New].
type Option func(*Sampler) error

// WithSeed sets the seed (default 0).
func WithSeed(seed int64) Option {
	return func(s *Sampler) error {
		s.seed = seed
		return nil
	}
}
