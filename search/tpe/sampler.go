package tpe

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"

	gtpe "github.com/c-bata/goptuna/tpe"

	"github.com/fhetune/fhetune/search"
	"github.com/fhetune/fhetune/search/random"
)

var _ search.Sampler = (*Sampler)(nil)

// Sampler is the TPE sampler. It holds only its options and is safe for concurrent use.
type Sampler struct {
	seed        int64
	startup     int
	candidates  int
	gamma       gtpe.FuncGamma
	ageWeights  gtpe.FuncWeights
	priorWeight float64
	objective   int       // objective to optimize; < 0 when weights is set
	weights     []float64 // weighted-sum scalarization, or nil
	explicit    bool      // a scalarization option was given
}

// New returns a TPE sampler configured by opts (see the package doc for defaults). It
// fails with ErrOption on an invalid option value.
func New(opts ...Option) (*Sampler, error) {
	s := &Sampler{
		startup:     10,
		candidates:  24,
		gamma:       gtpe.DefaultGamma,
		ageWeights:  gtpe.DefaultWeights,
		priorWeight: 1,
	}
	for _, opt := range opts {
		if err := opt(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Sample returns the parameters of trial number: random while fewer than the start-up
// number of usable trials exist, then TPE's choice per parameter (see the package doc).
// Random numbers come from search.NewRand(seed, number).
func (s *Sampler) Sample(space search.Space, dirs []search.Direction, history []search.Trial, number int) (map[string]float64, error) {
	if err := search.CheckArgs(space, dirs, number); err != nil {
		return nil, fmt.Errorf("tpe: sample trial %d: %w", number, err)
	}
	if err := s.checkScalarization(dirs); err != nil {
		return nil, err
	}
	obs, err := search.Completed(space, dirs, history)
	if err != nil {
		return nil, fmt.Errorf("tpe: sample trial %d: %w", number, err)
	}
	rng := search.NewRand(s.seed, number)
	if len(obs) == 0 || len(obs) < s.startup {
		return random.Draw(space, rng), nil
	}
	below, above := s.split(obs, dirs)
	out := make(map[string]float64, len(space.Params))
	for _, p := range space.Params {
		b := make([]float64, len(below))
		for i, t := range below {
			b[i] = t.Params[p.Name]
		}
		a := make([]float64, len(above))
		for i, t := range above {
			a[i] = t.Params[p.Name]
		}
		out[p.Name] = s.sampleParam(p, b, a, rng)
	}
	return out, nil
}

// checkScalarization verifies that the scalarization fits the study's objectives.
func (s *Sampler) checkScalarization(dirs []search.Direction) error {
	switch {
	case s.weights != nil && len(s.weights) != len(dirs):
		return fmt.Errorf("%w: %d weights for %d objectives", ErrScalarization, len(s.weights), len(dirs))
	case s.weights == nil && !s.explicit && len(dirs) > 1:
		return fmt.Errorf("%w: %d objectives need WithObjective or WithWeightedSum", ErrScalarization, len(dirs))
	case s.weights == nil && s.objective >= len(dirs):
		return fmt.Errorf("%w: objective %d of a study with %d objectives", ErrScalarization, s.objective, len(dirs))
	}
	return nil
}

// score is the scalar a trial is ranked by (lower is better).
func (s *Sampler) score(t search.Trial, dirs []search.Direction) float64 {
	sign := func(j int) float64 {
		if dirs[j] == search.Maximize {
			return -1
		}
		return 1
	}
	if s.weights == nil {
		return sign(s.objective) * t.Values[s.objective]
	}
	v := 0.0
	for j, w := range s.weights {
		v += w * sign(j) * t.Values[j]
	}
	return v
}

// split ranks the trials (sorted by number) and returns the best gamma(n) of them and the
// rest, each group in trial-number order (oldest first, as the age weights expect).
// Feasible trials rank by score, then infeasible ones by violation; ties keep number order.
func (s *Sampler) split(obs []search.Trial, dirs []search.Direction) (below, above []search.Trial) {
	type key struct {
		infeasible bool
		v          float64
	}
	keys := make([]key, len(obs))
	for i, t := range obs {
		if viol := t.Violation(); viol > 0 {
			keys[i] = key{true, viol}
		} else {
			keys[i] = key{false, s.score(t, dirs)}
		}
	}
	order := make([]int, len(obs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ka, kb := keys[a], keys[b]
		if ka.infeasible != kb.infeasible {
			if ka.infeasible {
				return 1
			}
			return -1
		}
		return cmp.Compare(ka.v, kb.v)
	})
	n := min(max(s.gamma(len(obs)), 1), len(obs))
	best := slices.Clone(order[:n])
	rest := slices.Clone(order[n:])
	slices.Sort(best)
	slices.Sort(rest)
	for _, i := range best {
		below = append(below, obs[i])
	}
	for _, i := range rest {
		above = append(above, obs[i])
	}
	return below, above
}

// sampleParam draws the candidates for one parameter and returns the best.
func (s *Sampler) sampleParam(p search.Param, below, above []float64, rng *rand.Rand) float64 {
	switch n := p.Count(); {
	case n == 1:
		return p.Value(0)
	case p.Kind == search.Categorical:
		return s.sampleCategorical(n, below, above, rng)
	}
	return s.sampleNumeric(p, below, above, rng)
}
