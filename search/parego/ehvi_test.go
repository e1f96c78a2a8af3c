package parego_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fhetune/fhetune/search"
	"github.com/fhetune/fhetune/search/parego"
	"github.com/fhetune/fhetune/search/pareto"
	"github.com/fhetune/fhetune/search/searchtest"
)

// hvi is the hypervolume improvement of y over front (minimization, reference ref),
// from pareto.Hypervolume.
func hvi(front [][]float64, ref [2]float64, y []float64) float64 {
	dirs := []search.Direction{search.Minimize, search.Minimize}
	before := pareto.Hypervolume(front, ref[:], dirs)
	if y[0] >= ref[0] || y[1] >= ref[1] {
		return 0
	}
	return pareto.Hypervolume(append(append([][]float64{}, front...), y), ref[:], dirs) - before
}

// TestEHVIExact: the closed form agrees with the hypervolume improvement itself for a
// certain point (sd 0) and with a Monte Carlo mean of it for
// uncertain ones (within 4 standard errors of 100,000 draws).
func TestEHVIExact(t *testing.T) {
	front := [][]float64{{0.1, 0.8}, {0.3, 0.5}, {0.6, 0.2}, {0.9, 0.1}}
	ref := [2]float64{1.1, 1.1}
	for _, c := range []struct {
		name   string
		mu, sd [2]float64
	}{
		{"certain, improving", [2]float64{0.2, 0.3}, [2]float64{0, 0}},
		{"certain, dominated", [2]float64{0.7, 0.6}, [2]float64{0, 0}},
		{"uncertain, improving", [2]float64{0.2, 0.3}, [2]float64{0.1, 0.2}},
		{"uncertain, dominated mean", [2]float64{0.7, 0.6}, [2]float64{0.3, 0.1}},
		{"beyond the reference", [2]float64{1.3, 0.4}, [2]float64{0.2, 0.2}},
		{"wide", [2]float64{0.5, 0.5}, [2]float64{1, 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := parego.EHVI2(front, ref, c.mu, c.sd)
			if c.sd == [2]float64{} {
				if want := hvi(front, ref, c.mu[:]); math.Abs(got-want) > 1e-12 {
					t.Fatalf("EHVI %v, improvement %v", got, want)
				}
				return
			}
			rng := rand.New(rand.NewPCG(1, 2))
			const n = 100000
			sum, sum2 := 0.0, 0.0
			for range n {
				y := []float64{c.mu[0] + c.sd[0]*rng.NormFloat64(), c.mu[1] + c.sd[1]*rng.NormFloat64()}
				v := hvi(front, ref, y)
				sum, sum2 = sum+v, sum2+v*v
			}
			mc := sum / n
			se := math.Sqrt((sum2/n - mc*mc) / n)
			if math.Abs(got-mc) > 4*se+1e-9 {
				t.Fatalf("EHVI %v, Monte Carlo %v ± %v", got, mc, se)
			}
		})
	}
}

// TestAvoidsFailures: on ZDT1 with 3 variables where every evaluation with x0 < 0.3
// fails (the low-f1 end of the front), a sampler that sees the failed trials wastes fewer
// of its 40 trials after the start-up on that region than one whose history leaves them
// out, over 4 seeds.
func TestAvoidsFailures(t *testing.T) {
	p := searchtest.ZDT1(3)
	run := func(seed int64, showFailures bool) int {
		s := newSampler(t, parego.WithSeed(seed))
		var seen []search.Trial
		fails := 0
		for n := 0; n < 52; n++ {
			params, err := s.Sample(p.Space, p.Dirs, seen, n)
			if err != nil {
				t.Fatal(err)
			}
			tr := search.Trial{Number: n, State: search.Fail, Params: params}
			if params["x0"] >= 0.3 {
				tr.State = search.Complete
				tr.Values, tr.Constraints = p.Eval(params)
			} else if n >= 12 {
				fails++
			}
			if tr.State == search.Complete || showFailures {
				seen = append(seen, tr)
			}
		}
		return fails
	}
	with, without := 0, 0
	for seed := int64(0); seed < 4; seed++ {
		with += run(seed, true)
		without += run(seed, false)
	}
	t.Logf("failed trials after the start-up, 4 seeds: %d seeing failures, %d not", with, without)
	if with*2 > without {
		t.Fatalf("%d failed trials seeing the failures, %d without: want at most half", with, without)
	}
}
