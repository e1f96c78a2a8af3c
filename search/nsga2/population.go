package nsga2

import (
	"cmp"
	"slices"

	"github.com/fhetune/fhetune/search"
	"github.com/fhetune/fhetune/search/pareto"
)

// individual is a completed trial as the genetic algorithm sees it.
type individual struct {
	number    int
	x         []float64 // unit coordinates, one per parameter; shared, never modified
	values    []float64 // objective values; shared, never modified
	violation float64
	rank      int     // front index in the pool it was selected from
	crowding  float64 // crowding distance within that front
}

// fingerprint identifies a set of trial numbers independently of their order.
type fingerprint struct {
	count      int
	sum, xored uint64
}

func (f *fingerprint) add(number int) {
	f.count++
	f.sum += mix(uint64(number))
	f.xored ^= mix(uint64(number) ^ 0x5851f42d4c957f2d)
}

// mix is the SplitMix64 finalizer.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// generation is the cached parent population P_g with the fingerprint of C_{g−1}, the
// Complete trials of generation g−1 it was built from.
type generation struct {
	from    fingerprint
	parents []individual
}

// cache holds the parents of generations 1, 2, … for one space and set of directions.
type cache struct {
	space search.Space
	dirs  []search.Direction
	gens  []generation // gens[g-1] is generation g
	fp    []fingerprint
}

// parents returns P_gen for the history, rebuilding from the first generation whose
// trials differ from the cached ones. The caller must not modify the result.
func (s *Sampler) parents(space search.Space, dirs []search.Direction, history []search.Trial, gen int) ([]individual, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &s.cache
	if !c.space.Equal(space) || !slices.Equal(c.dirs, dirs) {
		*c = cache{space: space.Clone(), dirs: slices.Clone(dirs)}
	}
	// Fingerprint the Complete trials of generations 0 … gen−1 in one pass.
	c.fp = slices.Grow(c.fp[:0], gen)[:gen]
	clear(c.fp)
	for i := range history {
		t := &history[i]
		if t.State != search.Complete || t.Number < 0 {
			continue
		}
		if g := t.Number / s.population; g < gen {
			c.fp[g].add(t.Number)
		}
	}
	valid := 0
	for valid < len(c.gens) && valid < gen && c.gens[valid].from == c.fp[valid] {
		valid++
	}
	c.gens = c.gens[:valid]
	for g := valid + 1; g <= gen; g++ {
		var prev []individual
		if g > 1 {
			prev = c.gens[g-2].parents
		}
		next, err := s.elite(space, dirs, history, g-1, prev)
		if err != nil {
			return nil, err
		}
		c.gens = append(c.gens, generation{from: c.fp[g-1], parents: next})
	}
	return c.gens[gen-1].parents, nil
}

// elite returns the elite of prev ∪ C_k, where C_k is the usable Complete trials of
// generation k: whole fronts while they fit, then the overflowing front by decreasing
// crowding distance (ties by trial number).
func (s *Sampler) elite(space search.Space, dirs []search.Direction, history []search.Trial, k int, prev []individual) ([]individual, error) {
	var members []search.Trial
	for _, t := range history {
		if t.State == search.Complete && t.Number >= 0 && t.Number/s.population == k {
			members = append(members, t)
		}
	}
	done, err := search.Completed(space, dirs, members)
	if err != nil {
		return nil, err
	}
	pool := make([]individual, 0, len(prev)+len(done))
	pool = append(pool, prev...)
	for _, t := range done {
		x := make([]float64, len(space.Params))
		for i, p := range space.Params {
			x[i] = p.ToUnit(t.Params[p.Name])
		}
		pool = append(pool, individual{number: t.Number, x: x, values: t.Values, violation: t.Violation()})
	}
	slices.SortFunc(pool, func(a, b individual) int { return cmp.Compare(a.number, b.number) })

	points := make([][]float64, len(pool))
	viol := make([]float64, len(pool))
	for i := range pool {
		points[i], viol[i] = pool[i].values, pool[i].violation
	}
	elite := make([]individual, 0, s.population)
	for rank, front := range pareto.SortConstrained(points, viol, dirs) {
		fp := make([][]float64, len(front))
		for i, idx := range front {
			fp[i] = points[idx]
		}
		dist := pareto.CrowdingDistance(fp)
		group := make([]individual, len(front))
		for i, idx := range front {
			group[i] = pool[idx]
			group[i].rank, group[i].crowding = rank, dist[i]
		}
		if len(elite)+len(group) <= s.population {
			elite = append(elite, group...)
			continue
		}
		slices.SortStableFunc(group, func(a, b individual) int {
			if c := cmp.Compare(b.crowding, a.crowding); c != 0 {
				return c
			}
			return cmp.Compare(a.number, b.number)
		})
		elite = append(elite, group[:s.population-len(elite)]...)
		break
	}
	return elite, nil
}
