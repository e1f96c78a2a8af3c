package nsga2

import (
	"math"
	"math/rand/v2"

	"github.com/fhetune/fhetune/search"
)

// crossover overwrites x (a copy of the first parent, in unit coordinates) with a child of
// x and y: SBX for numeric parameters, uniform crossover for categorical ones. Each
// variable is crossed with probability 1/2; fixed parameters are left alone.
func crossover(space search.Space, x, y []float64, eta float64, rng *rand.Rand) {
	for i, p := range space.Params {
		if p.Count() == 1 {
			continue
		}
		if rng.Float64() >= 0.5 {
			continue
		}
		if p.Kind == search.Categorical {
			x[i] = y[i]
			continue
		}
		c1, c2 := sbx(x[i], y[i], eta, rng.Float64())
		if rng.Float64() < 0.5 {
			x[i] = c1
		} else {
			x[i] = c2
		}
	}
}

// sbx is bounded simulated binary crossover on [0, 1] (Deb and Agrawal 1995, in the form
// of Deb's NSGA-II code): it spreads two children around the parents' mean with a spread
// factor drawn, through u in [0, 1), from a polynomial distribution of index eta whose
// tails are cut at the bounds. Equal parents give back the parents.
func sbx(p1, p2, eta, u float64) (c1, c2 float64) {
	y1, y2 := min(p1, p2), max(p1, p2)
	if y2-y1 < 1e-14 {
		return p1, p2
	}
	spread := func(beta float64) float64 {
		alpha := 2 - math.Pow(beta, -(eta+1))
		if u <= 1/alpha {
			return math.Pow(u*alpha, 1/(eta+1))
		}
		return math.Pow(1/(2-u*alpha), 1/(eta+1))
	}
	bq := spread(1 + 2*y1/(y2-y1))
	c1 = 0.5 * ((y1 + y2) - bq*(y2-y1))
	bq = spread(1 + 2*(1-y2)/(y2-y1))
	c2 = 0.5 * ((y1 + y2) + bq*(y2-y1))
	return clip01(c1), clip01(c2)
}

// mutate mutates each variable of x with probability pm: polynomial mutation for numeric
// parameters, a uniformly random cell for categorical ones. Fixed parameters are left
// alone.
func mutate(space search.Space, x []float64, pm, eta float64, rng *rand.Rand) {
	for i, p := range space.Params {
		n := p.Count()
		if n == 1 || rng.Float64() >= pm {
			continue
		}
		if p.Kind == search.Categorical {
			x[i] = (float64(rng.IntN(n)) + 0.5) / float64(n)
			continue
		}
		x[i] = polynomialMutation(x[i], eta, rng.Float64())
	}
}

// polynomialMutation is Deb's bounded polynomial mutation on [0, 1] (Deb and Goyal 1996,
// as in Deb's NSGA-II code): a perturbation drawn through u in [0, 1) from a polynomial
// distribution of index eta, scaled so that the result stays within the bounds.
func polynomialMutation(y, eta, u float64) float64 {
	pow := 1 / (eta + 1)
	var dq float64
	if u < 0.5 {
		xy := 1 - y
		val := 2*u + (1-2*u)*math.Pow(xy, eta+1)
		dq = math.Pow(val, pow) - 1
	} else {
		xy := y
		val := 2*(1-u) + 2*(u-0.5)*math.Pow(xy, eta+1)
		dq = 1 - math.Pow(val, pow)
	}
	return clip01(y + dq)
}

func clip01(v float64) float64 { return min(max(v, 0), 1) }
