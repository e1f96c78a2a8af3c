package random

import (
	"math/rand/v2"

	"github.com/fhetune/fhetune/search"
)

// Draw returns one value per parameter of space, each from its prior, drawn in the
// space's order from rng. Other samplers use it for their random trials. space must be
// valid.
func Draw(space search.Space, rng *rand.Rand) map[string]float64 {
	out := make(map[string]float64, len(space.Params))
	for _, p := range space.Params {
		out[p.Name] = p.Uniform(rng)
	}
	return out
}
