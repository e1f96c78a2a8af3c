package tuner

import (
	"fmt"

	"github.com/fhetune/fhetune/search"
	"github.com/fhetune/fhetune/search/grid"
	"github.com/fhetune/fhetune/search/nsga2"
	"github.com/fhetune/fhetune/search/parego"
	"github.com/fhetune/fhetune/search/random"
	"github.com/fhetune/fhetune/search/tpe"
)

// newSampler builds the sampler a resolved spec names over its space. For grid search it
// also returns the grid's size (0 for the other samplers).
func newSampler(s Spec, ks knobSpace) (search.Sampler, int, error) {
	sp := s.Sampler
	switch sp.Name {
	case "nsga2":
		smp, err := nsga2.New(nsga2.WithSeed(s.Seed), nsga2.WithPopulation(sp.Population),
			nsga2.WithMutationProb(sp.MutationProb), nsga2.WithCrossoverEta(sp.Eta), nsga2.WithMutationEta(sp.Eta))
		return smp, 0, wrapSampler(s, err)
	case "tpe":
		smp, err := tpe.New(tpe.WithSeed(s.Seed), tpe.WithStartupTrials(sp.StartupTrials),
			tpe.WithObjective(s.objective(sp.Objective)))
		return smp, 0, wrapSampler(s, err)
	case "parego":
		smp, err := parego.New(parego.WithSeed(s.Seed), parego.WithStartupTrials(sp.StartupTrials))
		return smp, 0, wrapSampler(s, err)
	case "random":
		smp, err := random.New(random.WithSeed(s.Seed))
		return smp, 0, wrapSampler(s, err)
	case "grid":
		smp, err := grid.New(grid.WithSeed(s.Seed), grid.WithPoints(sp.Points))
		if err != nil {
			return nil, 0, wrapSampler(s, err)
		}
		n, err := smp.Size(ks.space)
		if err != nil {
			return nil, 0, &SpecError{File: s.file, Field: "sampler", Why: fmt.Sprintf("grid over the space: %v", err)}
		}
		return smp, n, nil
	}
	return nil, 0, &SpecError{File: s.file, Field: "sampler", Why: fmt.Sprintf("unknown sampler %q", sp.Name)}
}

func wrapSampler(s Spec, err error) error {
	if err == nil {
		return nil
	}
	return &SpecError{File: s.file, Field: "sampler", Why: err.Error()}
}
