package search

import "math/rand/v2"

// Sampler proposes the parameters of a trial from the history of the study.
//
// Sample returns internal values for every parameter of space, for trial number, given
// the objective directions and the history: all trials so far in any state and order
// (typically every trial of the study except number itself). Implementations are
// deterministic: the same sampler options, space, directions, history and number give the
// same values. The implementations in search/... are safe for concurrent use.
type Sampler interface {
	Sample(space Space, dirs []Direction, history []Trial, number int) (map[string]float64, error)
}

// NewRand returns the random source for trial number of a sampler seeded with seed:
// a PCG generator whose state mixes both with SplitMix64, so that neighbouring seeds and
// numbers give unrelated streams. Samplers draw trial n's random numbers from
// NewRand(seed, n) alone, which makes them independent of the order trials are sampled
// in. The result is not safe for concurrent use.
func NewRand(seed int64, number int) *rand.Rand {
	a := splitmix(uint64(seed))
	b := splitmix(a ^ splitmix(uint64(number)+0x632be59bd9b4e019))
	return rand.New(rand.NewPCG(a, b))
}

// splitmix is the SplitMix64 finalizer (Steele, Lea, Flood, 2014).
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
