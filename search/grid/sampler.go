package grid

import (
	"fmt"
	"math"
	"sync"

	"github.com/fhetune/fhetune/search"
)

var _ search.Sampler = (*Sampler)(nil)

// Sampler is the grid sampler. It is safe for concurrent use; it keeps the permutation of
// the last space it saw behind a mutex.
type Sampler struct {
	seed    int64
	points  int
	shuffle bool
	maxSize int

	// mu protects space and perm.
	mu    sync.Mutex
	space search.Space
	perm  []int32
}

// New returns a grid sampler configured by opts (see the package doc for defaults). It
// fails with ErrOption on an invalid option value.
func New(opts ...Option) (*Sampler, error) {
	s := &Sampler{points: 5, shuffle: true, maxSize: 1_000_000}
	for _, opt := range opts {
		if err := opt(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Axes returns the values of each parameter's axis, in the space's order. space must be
// valid.
func (s *Sampler) Axes(space search.Space) [][]float64 {
	axes := make([][]float64, len(space.Params))
	for i, p := range space.Params {
		if n := p.Count(); n > 0 {
			axes[i] = make([]float64, n)
			for k := range axes[i] {
				axes[i][k] = p.Value(k)
			}
			continue
		}
		axis := make([]float64, s.points)
		for k := range axis {
			t := float64(k) / float64(s.points-1)
			if p.Kind == search.LogFloat {
				lo, hi := math.Log(p.Low), math.Log(p.High)
				axis[k] = math.Exp(lo + t*(hi-lo))
			} else {
				axis[k] = p.Low + t*(p.High-p.Low)
			}
			axis[k] = min(max(axis[k], p.Low), p.High)
		}
		axis[0], axis[s.points-1] = p.Low, p.High
		axes[i] = axis
	}
	return axes
}

// Size returns the number of points of the grid over space. It fails if the space is
// invalid or the grid has more points than the limit (ErrTooLarge).
func (s *Sampler) Size(space search.Space) (int, error) {
	if err := space.Validate(); err != nil {
		return 0, fmt.Errorf("grid: %w", err)
	}
	return s.size(s.Axes(space))
}

func (s *Sampler) size(axes [][]float64) (int, error) {
	size := 1
	for _, a := range axes {
		if size > s.maxSize/len(a) {
			return 0, fmt.Errorf("%w: more than %d points (raise the limit or use fewer points per axis)", ErrTooLarge, s.maxSize)
		}
		size *= len(a)
	}
	return size, nil
}

// Sample returns grid point perm(number) (see the package doc); history is not read.
// It fails with ErrExhausted when number ≥ Size(space).
func (s *Sampler) Sample(space search.Space, dirs []search.Direction, history []search.Trial, number int) (map[string]float64, error) {
	if err := search.CheckArgs(space, dirs, number); err != nil {
		return nil, fmt.Errorf("grid: sample trial %d: %w", number, err)
	}
	axes := s.Axes(space)
	size, err := s.size(axes)
	if err != nil {
		return nil, fmt.Errorf("grid: sample trial %d: %w", number, err)
	}
	if number >= size {
		return nil, fmt.Errorf("%w: trial %d, the grid has %d points", ErrExhausted, number, size)
	}
	idx := number
	if s.shuffle {
		idx = s.permuted(space, size, number)
	}
	out := make(map[string]float64, len(axes))
	for i := len(axes) - 1; i >= 0; i-- {
		n := len(axes[i])
		out[space.Params[i].Name] = axes[i][idx%n]
		idx /= n
	}
	return out, nil
}

// permuted returns perm(number) for the grid of space, building the seeded permutation
// (Fisher–Yates) when the space changes.
func (s *Sampler) permuted(space search.Space, size, number int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.perm) != size || !s.space.Equal(space) {
		s.space = space.Clone()
		s.perm = make([]int32, size)
		for i := range s.perm {
			s.perm[i] = int32(i)
		}
		rng := search.NewRand(s.seed, -1)
		rng.Shuffle(size, func(i, j int) { s.perm[i], s.perm[j] = s.perm[j], s.perm[i] })
	}
	return int(s.perm[number])
}
