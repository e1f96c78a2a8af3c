package random

import (
	"fmt"

	"github.com/fhetune/fhetune/search"
)

var _ search.Sampler = (*Sampler)(nil)

// Sampler is the random-search sampler. It holds no state besides its options and is safe
// for concurrent use.
type Sampler struct {
	seed int64
}

// New returns a random sampler configured by opts.
func New(opts ...Option) (*Sampler, error) {
	s := &Sampler{}
	for _, opt := range opts {
		if err := opt(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Sample draws every parameter of space from its prior with the random source
// search.NewRand(seed, number). dirs is checked but history is not read.
func (s *Sampler) Sample(space search.Space, dirs []search.Direction, history []search.Trial, number int) (map[string]float64, error) {
	if err := search.CheckArgs(space, dirs, number); err != nil {
		return nil, fmt.Errorf("random: sample trial %d: %w", number, err)
	}
	return Draw(space, search.NewRand(s.seed, number)), nil
}
