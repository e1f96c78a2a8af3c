package parego

import (
	"math"

	"github.com/fhetune/fhetune/search"
)

// maxFailures is how many failed trials, the latest, the failure model sees at most.
const maxFailures = 100

// failureModel estimates the probability that a point's evaluation succeeds: a Gaussian
// process regression of +1 (Complete) and −1 (Fail) labels, read as Φ(μ/σ). This is a
// cheap stand-in for a Gaussian-process classifier; it is near 0 next to a failed trial,
// near 1 next to a completed one, and its prior value elsewhere. Without failed trials
// it is nil, and prob returns 1.
type failureModel struct{ g *gp }

// failed returns the unit-cube points of the Fail trials of history whose parameters
// cover the space (search.Failed), the latest maxFailures of them.
func failed(space search.Space, history []search.Trial) [][]float64 {
	fs := search.Failed(space, history)
	out := make([][]float64, 0, len(fs))
	for _, t := range fs {
		out = append(out, toUnit(space, t.Params))
	}
	return out[max(0, len(out)-maxFailures):]
}

// fitFailures fits the failure model to completed points ok and failed points bad; nil
// when bad is empty.
func fitFailures(ok, bad [][]float64) *failureModel {
	if len(bad) == 0 {
		return nil
	}
	x := make([][]float64, 0, len(ok)+len(bad))
	y := make([]float64, 0, len(ok)+len(bad))
	for _, u := range ok {
		x, y = append(x, u), append(y, 1)
	}
	for _, u := range bad {
		x, y = append(x, u), append(y, -1)
	}
	return &failureModel{fitGP(x, y)}
}

// prob returns the estimated probability that an evaluation at u succeeds (1 for a nil
// model).
func (m *failureModel) prob(u []float64) float64 {
	if m == nil {
		return 1
	}
	mu, sd := m.g.predict(u)
	return 0.5 * math.Erfc(-mu/sd/math.Sqrt2)
}
