package nsga2

import (
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/fhetune/fhetune/search"
	"github.com/fhetune/fhetune/search/random"
)

var _ search.Sampler = (*Sampler)(nil)

// Sampler is the NSGA-II sampler. It is safe for concurrent use: calls share a cache of
// each generation's parents behind a mutex.
type Sampler struct {
	seed          int64
	population    int
	crossoverProb float64
	crossoverEta  float64
	mutationEta   float64
	mutationProb  float64 // < 0: 1/(number of parameters)

	// mu protects cache.
	mu    sync.Mutex
	cache cache
}

// New returns an NSGA-II sampler configured by opts (see the package doc for defaults).
// It fails with ErrOption on an invalid option value.
func New(opts ...Option) (*Sampler, error) {
	s := &Sampler{
		population:    50,
		crossoverProb: 0.9,
		crossoverEta:  10,
		mutationEta:   10,
		mutationProb:  -1,
	}
	for _, opt := range opts {
		if err := opt(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Sample returns the parameters of trial number: random in generation 0 (or when no
// earlier trial completed), otherwise a child of the generation's parents (see the
// package doc). Random numbers come from search.NewRand(seed, number).
func (s *Sampler) Sample(space search.Space, dirs []search.Direction, history []search.Trial, number int) (map[string]float64, error) {
	if err := search.CheckArgs(space, dirs, number); err != nil {
		return nil, fmt.Errorf("nsga2: sample trial %d: %w", number, err)
	}
	rng := search.NewRand(s.seed, number)
	gen := number / s.population
	if gen == 0 {
		return random.Draw(space, rng), nil
	}
	parents, err := s.parents(space, dirs, history, gen)
	if err != nil {
		return nil, fmt.Errorf("nsga2: sample trial %d: %w", number, err)
	}
	if len(parents) == 0 {
		return random.Draw(space, rng), nil
	}
	return s.child(space, parents, rng), nil
}

// child breeds one child of the parents: two binary tournaments, crossover and mutation.
func (s *Sampler) child(space search.Space, parents []individual, rng *rand.Rand) map[string]float64 {
	a := tournament(parents, rng)
	b := a
	for try := 0; try < 8 && b == a && len(parents) > 1; try++ {
		b = tournament(parents, rng)
	}
	x := make([]float64, len(space.Params))
	copy(x, parents[a].x)
	if rng.Float64() < s.crossoverProb {
		crossover(space, x, parents[b].x, s.crossoverEta, rng)
	}
	pm := s.mutationProb
	if pm < 0 {
		pm = 1 / float64(len(space.Params))
	}
	mutate(space, x, pm, s.mutationEta, rng)
	out := make(map[string]float64, len(space.Params))
	for i, p := range space.Params {
		out[p.Name] = p.FromUnit(x[i])
	}
	return out
}

// tournament returns the index of the better of two distinct random parents: lower rank,
// then larger crowding distance, then the first drawn.
func tournament(parents []individual, rng *rand.Rand) int {
	n := len(parents)
	if n == 1 {
		return 0
	}
	i := rng.IntN(n)
	j := rng.IntN(n - 1)
	if j >= i {
		j++
	}
	a, b := &parents[i], &parents[j]
	switch {
	case a.rank != b.rank:
		if b.rank < a.rank {
			return j
		}
	case b.crowding > a.crowding:
		return j
	}
	return i
}
