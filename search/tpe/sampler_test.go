package tpe_test

import (
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/fhetune/fhetune/search"
	"github.com/fhetune/fhetune/search/random"
	"github.com/fhetune/fhetune/search/searchtest"
	"github.com/fhetune/fhetune/search/tpe"
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// quadratic2D is (x − 0.3)² + (y + 1)² on [−5, 5]², minimum 0.
func quadratic2D() searchtest.Problem {
	return searchtest.Problem{
		Name: "quadratic2D",
		Space: search.Space{Params: []search.Param{
			{Name: "x", Kind: search.Float, Low: -5, High: 5},
			{Name: "y", Kind: search.Float, Low: -5, High: 5},
		}},
		Dirs: []search.Direction{search.Minimize},
		Eval: func(p map[string]float64) ([]float64, []float64) {
			return []float64{(p["x"]-0.3)*(p["x"]-0.3) + (p["y"]+1)*(p["y"]+1)}, nil
		},
	}
}

// compare runs TPE and random search for n trials on seeds 0 … 9 and returns the mean best
// values and how many seeds TPE won.
func compare(t *testing.T, p searchtest.Problem, n int, opts ...tpe.Option) (tpeMean, randomMean float64, wins int) {
	t.Helper()
	for seed := int64(0); seed < 10; seed++ {
		ht, err := searchtest.Run(must(tpe.New(append(opts, tpe.WithSeed(seed))...)), p, n)
		if err != nil {
			t.Fatal(err)
		}
		hr, err := searchtest.Run(must(random.New(random.WithSeed(seed))), p, n)
		if err != nil {
			t.Fatal(err)
		}
		bt, br := searchtest.Best(ht), searchtest.Best(hr)
		tpeMean += bt / 10
		randomMean += br / 10
		if bt < br {
			wins++
		}
	}
	return tpeMean, randomMean, wins
}

func TestBeatsRandom(t *testing.T) {
	cases := []struct {
		problem searchtest.Problem
		trials  int
	}{
		{quadratic2D(), 60},
		{searchtest.Mixed(), 100},
	}
	for _, c := range cases {
		t.Run(c.problem.Name, func(t *testing.T) {
			tm, rm, wins := compare(t, c.problem, c.trials)
			t.Logf("mean best over 10 seeds: TPE %.4g, random %.4g; TPE better on %d seeds", tm, rm, wins)
			if tm >= rm/2 || wins < 8 {
				t.Errorf("TPE mean best %.4g (want below half of random's %.4g), better on %d of 10 seeds (want ≥ 8)", tm, rm, wins)
			}
		})
	}
}

// TestConstrained minimizes x² + y² subject to x + y ≥ 1 (optimum 0.5 at x = y = 1/2),
// passed as the constraint 1 − x − y ≤ 0.
func TestConstrained(t *testing.T) {
	p := searchtest.Problem{
		Name: "disc",
		Space: search.Space{Params: []search.Param{
			{Name: "x", Kind: search.Float, Low: 0, High: 1},
			{Name: "y", Kind: search.Float, Low: 0, High: 1},
		}},
		Dirs: []search.Direction{search.Minimize},
		Eval: func(q map[string]float64) ([]float64, []float64) {
			x, y := q["x"], q["y"]
			return []float64{x*x + y*y}, []float64{1 - x - y}
		},
	}
	tm, rm, wins := compare(t, p, 80)
	t.Logf("mean best feasible over 10 seeds: TPE %.4f, random %.4f (optimum 0.5); TPE better on %d", tm, rm, wins)
	if tm > 0.52 || tm >= rm || wins < 7 {
		t.Errorf("TPE mean best %.4f (want ≤ 0.52 and below random's %.4f), better on %d of 10 (want ≥ 7)", tm, rm, wins)
	}
}

// TestScalarization runs a two-objective study as "minimize latency subject to accuracy
// ≥ 0.9": objective 1 with a constraint.
func TestScalarization(t *testing.T) {
	p := searchtest.Problem{
		Name: "accuracy-latency",
		Space: search.Space{Params: []search.Param{
			{Name: "bits", Kind: search.Int, Low: 1, High: 12},
			{Name: "p_error", Kind: search.LogFloat, Low: 1e-6, High: 0.5},
		}},
		Dirs: []search.Direction{search.Maximize, search.Minimize},
	}
	p.Eval = func(q map[string]float64) ([]float64, []float64) {
		acc := (1 - math.Exp(-q["bits"]/2)) * (1 - q["p_error"])
		lat := math.Exp2(q["bits"]) * (1 - 0.1*math.Log10(q["p_error"]))
		return []float64{acc, lat}, []float64{0.9 - acc}
	}
	// Feasible needs bits ≥ 5; latency is lowest at bits = 5 with the largest p_error that
	// keeps accuracy ≥ 0.9: (1 − e^−2.5)(1 − p) ≥ 0.9, p ≤ 0.0195.
	h := must(searchtest.Run(must(tpe.New(tpe.WithObjective(1))), p, 80))
	best := math.Inf(1)
	var at map[string]float64
	for _, tr := range h {
		if tr.Feasible() && tr.Values[1] < best {
			best, at = tr.Values[1], tr.Params
		}
	}
	t.Logf("best feasible latency %.3f at %v", best, at)
	if at == nil || at["bits"] != 5 || at["p_error"] < 1e-3 || at["p_error"] > 0.0195 {
		t.Errorf("best feasible trial %v, want bits 5 and p_error in [1e-3, 0.0195]", at)
	}
	// The weighted sum w = (0, 1) is the same ranking as objective 1.
	hw := must(searchtest.Run(must(tpe.New(tpe.WithWeightedSum(0, 1))), p, 30))
	if !reflect.DeepEqual(hw, h[:30]) {
		t.Error("WithWeightedSum(0, 1) differs from WithObjective(1)")
	}
}

func TestDeterminism(t *testing.T) {
	p := searchtest.Mixed()
	h1 := must(searchtest.Run(must(tpe.New(tpe.WithSeed(5))), p, 60))
	h2 := must(searchtest.Run(must(tpe.New(tpe.WithSeed(5))), p, 60))
	if !reflect.DeepEqual(h1, h2) {
		t.Fatal("same seed gave different trials")
	}
	rev := make([]search.Trial, 50)
	for i := range rev {
		rev[i] = h1[49-i]
	}
	got := must(must(tpe.New(tpe.WithSeed(5))).Sample(p.Space, p.Dirs, rev, 50))
	if !reflect.DeepEqual(got, h1[50].Params) {
		t.Errorf("from reversed history %v, in the run %v", got, h1[50].Params)
	}
	// Start-up trials are random draws.
	for n := 0; n < 10; n++ {
		if want := random.Draw(p.Space, search.NewRand(5, n)); !reflect.DeepEqual(h1[n].Params, want) {
			t.Errorf("start-up trial %d = %v, want the random draw %v", n, h1[n].Params, want)
		}
	}
	h3 := must(searchtest.Run(must(tpe.New(tpe.WithSeed(6))), p, 60))
	if reflect.DeepEqual(h1[50].Params, h3[50].Params) {
		t.Error("seeds 5 and 6 gave the same trial")
	}
}

// TestMaximizeMirrorsMinimize: maximizing −f proposes exactly the trials of minimizing f.
func TestMaximizeMirrorsMinimize(t *testing.T) {
	p := searchtest.Mixed()
	q := p
	q.Dirs = []search.Direction{search.Maximize}
	q.Eval = func(params map[string]float64) ([]float64, []float64) {
		v, _ := p.Eval(params)
		return []float64{-v[0]}, nil
	}
	h1 := must(searchtest.Run(must(tpe.New()), p, 40))
	h2 := must(searchtest.Run(must(tpe.New()), q, 40))
	for i := range h1 {
		if !reflect.DeepEqual(h1[i].Params, h2[i].Params) {
			t.Fatalf("trial %d differs", i)
		}
	}
}

func TestBadInput(t *testing.T) {
	for name, opt := range map[string]tpe.Option{
		"startup -1":   tpe.WithStartupTrials(-1),
		"candidates 0": tpe.WithCandidates(0),
		"nil gamma":    tpe.WithGamma(nil),
		"objective -1": tpe.WithObjective(-1),
		"no weights":   tpe.WithWeightedSum(),
		"NaN weight":   tpe.WithWeightedSum(1, math.NaN()),
	} {
		if _, err := tpe.New(opt); !errors.Is(err, tpe.ErrOption) {
			t.Errorf("%s: %v", name, err)
		}
	}
	space := searchtest.Mixed().Space
	two := []search.Direction{search.Maximize, search.Minimize}
	for name, s := range map[string]*tpe.Sampler{
		"no scalarization": must(tpe.New()),
		"objective 2 of 2": must(tpe.New(tpe.WithObjective(2))),
		"3 weights for 2":  must(tpe.New(tpe.WithWeightedSum(1, 1, 1))),
	} {
		if _, err := s.Sample(space, two, nil, 0); !errors.Is(err, tpe.ErrScalarization) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := must(tpe.New()).Sample(search.Space{}, two[:1], nil, 0); !errors.Is(err, search.ErrNoParams) {
		t.Errorf("empty space: %v", err)
	}
}
