package nsga2_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/fhetune/fhetune/search"
	"github.com/fhetune/fhetune/search/nsga2"
	"github.com/fhetune/fhetune/search/random"
	"github.com/fhetune/fhetune/search/searchtest"
)

func newSampler(t testing.TB, opts ...nsga2.Option) *nsga2.Sampler {
	t.Helper()
	s, err := nsga2.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDeterminism(t *testing.T) {
	p := searchtest.Mixed()
	h1, err := searchtest.Run(newSampler(t, nsga2.WithSeed(9), nsga2.WithPopulation(20)), p, 300)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := searchtest.Run(newSampler(t, nsga2.WithSeed(9), nsga2.WithPopulation(20)), p, 300)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(h1, h2) {
		t.Fatal("same seed gave different trials")
	}
	// A fresh sampler asked for trial 250 alone, with the history in reverse order, gives
	// the same parameters: the result depends on the history, not on the calls before.
	rev := make([]search.Trial, 250)
	for i := range rev {
		rev[i] = h1[249-i]
	}
	got, err := newSampler(t, nsga2.WithSeed(9), nsga2.WithPopulation(20)).Sample(p.Space, p.Dirs, rev, 250)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, h1[250].Params) {
		t.Errorf("cold sample %v, warm %v", got, h1[250].Params)
	}
	h3, _ := searchtest.Run(newSampler(t, nsga2.WithSeed(10), nsga2.WithPopulation(20)), p, 300)
	if reflect.DeepEqual(h1[250].Params, h3[250].Params) {
		t.Error("seeds 9 and 10 gave the same trial")
	}
}

// TestCacheFollowsHistory checks that a warm cache is rebuilt when a trial of an earlier
// generation changes state, so the answer equals a fresh sampler's.
func TestCacheFollowsHistory(t *testing.T) {
	p := searchtest.ZDT1(5)
	warm := newSampler(t, nsga2.WithPopulation(10))
	h, err := searchtest.Run(warm, p, 40)
	if err != nil {
		t.Fatal(err)
	}
	// Trial 5 of generation 0 was still running, then it completes.
	running := append([]search.Trial(nil), h...)
	running[5].State = search.Running
	if _, err := warm.Sample(p.Space, p.Dirs, running, 40); err != nil {
		t.Fatal(err)
	}
	got, _ := warm.Sample(p.Space, p.Dirs, h, 40)
	want, _ := newSampler(t, nsga2.WithPopulation(10)).Sample(p.Space, p.Dirs, h, 40)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("warm sampler %v, fresh sampler %v", got, want)
	}
	// And the other way round.
	got, _ = warm.Sample(p.Space, p.Dirs, running, 40)
	want, _ = newSampler(t, nsga2.WithPopulation(10)).Sample(p.Space, p.Dirs, running, 40)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after the change back: warm %v, fresh %v", got, want)
	}
	// A different space resets the cache instead of reusing it.
	q := searchtest.ZDT2(5)
	q.Space.Params[0].High = 0.5
	if _, err := warm.Sample(q.Space, q.Dirs, nil, 0); err != nil {
		t.Fatal(err)
	}
	hq, err := searchtest.Run(warm, q, 30)
	if err != nil {
		t.Fatalf("after a space change: %v", err)
	}
	if hq[29].Params["x0"] > 0.5 {
		t.Errorf("sample %v outside the new space", hq[29].Params)
	}
}

// TestMaximizeMirrorsMinimize runs ZDT1 with both objectives negated and maximized: the
// algorithm only compares values, so it must propose exactly the same trials.
func TestMaximizeMirrorsMinimize(t *testing.T) {
	p := searchtest.ZDT1(10)
	q := p
	q.Dirs = []search.Direction{search.Maximize, search.Maximize}
	q.Eval = func(params map[string]float64) ([]float64, []float64) {
		v, _ := p.Eval(params)
		return []float64{-v[0], -v[1]}, nil
	}
	h1, _ := searchtest.Run(newSampler(t, nsga2.WithPopulation(20)), p, 200)
	h2, err := searchtest.Run(newSampler(t, nsga2.WithPopulation(20)), q, 200)
	if err != nil {
		t.Fatal(err)
	}
	for i := range h1 {
		if !reflect.DeepEqual(h1[i].Params, h2[i].Params) {
			t.Fatalf("trial %d differs between minimize and mirrored maximize", i)
		}
	}
}

// TestConstrained runs Deb's CONSTR problem, whose front lies partly on a constraint
// boundary: the feasible front approaches the true one and beats random search's.
func TestConstrained(t *testing.T) {
	p := searchtest.Constr()
	h, err := searchtest.Run(newSampler(t, nsga2.WithSeed(2)), p, 3000)
	if err != nil {
		t.Fatal(err)
	}
	hr, _ := searchtest.Run(must(random.New(random.WithSeed(2))), p, 3000)
	ref := []float64{1.1, 10}
	hv, hvRandom, hvTrue := searchtest.Hypervolume(h, p.Dirs, ref), searchtest.Hypervolume(hr, p.Dirs, ref), searchtest.ConstrHypervolume()
	t.Logf("feasible hypervolume: nsga2 %.4f, random %.4f, true %.4f", hv, hvRandom, hvTrue)
	if hv < 0.98*hvTrue || hv <= hvRandom {
		t.Errorf("feasible hypervolume %.4f: want ≥ 98%% of %.4f and above random's %.4f", hv, hvTrue, hvRandom)
	}
}

// TestConstraintMovesSearch adds the constraint x0 ≥ 0.8 to ZDT1, which only 20% of random
// trials meet and which cuts off most of the unconstrained front: constraint-domination
// must steer the children into the feasible region.
func TestConstraintMovesSearch(t *testing.T) {
	base := searchtest.ZDT1(10)
	p := base
	p.Eval = func(params map[string]float64) ([]float64, []float64) {
		v, _ := base.Eval(params)
		return v, []float64{0.8 - params["x0"]}
	}
	feasibleShare := func(h []search.Trial) float64 {
		n := 0
		for _, tr := range h[len(h)-500:] {
			if tr.Params["x0"] >= 0.8 {
				n++
			}
		}
		return float64(n) / 500
	}
	constrained, err := searchtest.Run(newSampler(t, nsga2.WithSeed(3)), p, 2000)
	if err != nil {
		t.Fatal(err)
	}
	free, _ := searchtest.Run(newSampler(t, nsga2.WithSeed(3)), base, 2000)
	t.Logf("share of the last 500 trials with x0 ≥ 0.8: constrained %.3f, unconstrained %.3f",
		feasibleShare(constrained), feasibleShare(free))
	if feasibleShare(constrained) < 0.8 || feasibleShare(free) > 0.5 {
		t.Errorf("feasible share: constrained %.3f (want ≥ 0.8), unconstrained %.3f (want ≤ 0.5)",
			feasibleShare(constrained), feasibleShare(free))
	}
	// The feasible part of the front is found: f1 in [0.8, 1], f2 = 1 − √f1.
	// ∫_{0.8}^{1} (1.1 − 1 + √x) dx plus the strip f1 in [1, 1.1].
	trueHV := 0.1*0.2 + 2.0/3*(1-math.Pow(0.8, 1.5)) + 0.1*1.1
	hv := searchtest.Hypervolume(constrained, p.Dirs, []float64{1.1, 1.1})
	t.Logf("feasible hypervolume %.4f of %.4f", hv, trueHV)
	if hv < 0.95*trueHV {
		t.Errorf("feasible hypervolume %.4f < 95%% of %.4f", hv, trueHV)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestMixedSpace checks integer, log-scale and categorical handling on a single-objective
// problem whose optimum is known: every sample lies in the space (Run checks it) and the
// search finds the optimal integer and choice.
func TestMixedSpace(t *testing.T) {
	p := searchtest.Mixed()
	h, err := searchtest.Run(newSampler(t, nsga2.WithSeed(4), nsga2.WithPopulation(20)), p, 1000)
	if err != nil {
		t.Fatal(err)
	}
	best := h[0]
	for _, tr := range h {
		if tr.Values[0] < best.Values[0] {
			best = tr
		}
	}
	hr, _ := searchtest.Run(must(random.New(random.WithSeed(4))), p, 1000)
	t.Logf("best %.4g at %v (random: %.4g)", best.Values[0], best.Params, searchtest.Best(hr))
	if best.Params["n"] != 5 || best.Params["c"] != 1 || best.Values[0] > 0.02 {
		t.Errorf("best %.4g at %v, want n = 5, c = b and a value ≤ 0.02", best.Values[0], best.Params)
	}
	if best.Values[0] >= searchtest.Best(hr) {
		t.Errorf("NSGA-II best %.4g is not below random's %.4g", best.Values[0], searchtest.Best(hr))
	}
}

// TestFailedGenerationFallsBackToRandom: when every trial of generation 0 failed, the
// next generation has no parents and is drawn like random search.
func TestFailedGenerationFallsBackToRandom(t *testing.T) {
	p := searchtest.Mixed()
	var history []search.Trial
	s := newSampler(t, nsga2.WithPopulation(10), nsga2.WithSeed(5))
	for n := 0; n < 10; n++ {
		params, err := s.Sample(p.Space, p.Dirs, history, n)
		if err != nil {
			t.Fatal(err)
		}
		history = append(history, search.Trial{Number: n, State: search.Fail, Params: params})
	}
	got, err := s.Sample(p.Space, p.Dirs, history, 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := random.Draw(p.Space, search.NewRand(5, 10)); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want the random draw %v", got, want)
	}
	// With one completed trial it breeds from it instead (the child is no random draw).
	history[3].State = search.Complete
	history[3].Values, _ = p.Eval(history[3].Params)
	got, _ = s.Sample(p.Space, p.Dirs, history, 10)
	if err := p.Space.Check(got); err != nil {
		t.Fatal(err)
	}
}

func TestBadInput(t *testing.T) {
	for name, opt := range map[string]nsga2.Option{
		"population 1":       nsga2.WithPopulation(1),
		"crossover prob 1.5": nsga2.WithCrossoverProb(1.5),
		"crossover prob NaN": nsga2.WithCrossoverProb(math.NaN()),
		"mutation prob -0.1": nsga2.WithMutationProb(-0.1),
		"crossover eta -1":   nsga2.WithCrossoverEta(-1),
		"mutation eta +Inf":  nsga2.WithMutationEta(math.Inf(1)),
	} {
		if _, err := nsga2.New(opt); !errors.Is(err, nsga2.ErrOption) {
			t.Errorf("%s: New error = %v", name, err)
		}
	}
	s := newSampler(t)
	p := searchtest.ZDT1(3)
	bad := []search.Trial{{Number: 0, State: search.Complete, Params: map[string]float64{"x0": 0, "x1": 0, "x2": 0}, Values: []float64{1}}}
	if _, err := s.Sample(p.Space, p.Dirs, bad, 60); !errors.Is(err, search.ErrBadHistory) {
		t.Errorf("one value for two objectives: %v", err)
	}
	if _, err := s.Sample(search.Space{}, p.Dirs, nil, 0); !errors.Is(err, search.ErrNoParams) {
		t.Errorf("empty space: %v", err)
	}
}

func TestOperators(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for range 10000 {
		p1, p2, u := rng.Float64(), rng.Float64(), rng.Float64()
		for _, eta := range []float64{0, 2, 10, 20} {
			c1, c2 := nsga2.SBX(p1, p2, eta, u)
			if c1 < 0 || c1 > 1 || c2 < 0 || c2 > 1 || c1 > c2 {
				t.Fatalf("SBX(%v, %v, eta %v, u %v) = %v, %v", p1, p2, eta, u, c1, c2)
			}
			m := nsga2.PolynomialMutation(p1, eta, u)
			if m < 0 || m > 1 {
				t.Fatalf("PolynomialMutation(%v, %v, %v) = %v", p1, eta, u, m)
			}
		}
	}
	// u = 1/2 gives back the parents (spread factor 1, up to the bounds' cut of the
	// distribution) and no mutation.
	if c1, c2 := nsga2.SBX(0.3, 0.6, 10, 0.5); math.Abs(c1-0.3) > 1e-6 || math.Abs(c2-0.6) > 1e-6 {
		t.Errorf("SBX at u = 1/2: %v, %v", c1, c2)
	}
	if m := nsga2.PolynomialMutation(0.4, 10, 0.5); math.Abs(m-0.4) > 1e-12 {
		t.Errorf("mutation at u = 1/2: %v", m)
	}
	// Larger eta keeps children closer to their parents.
	spread := func(eta float64) float64 {
		s := 0.0
		for i := range 1000 {
			c1, c2 := nsga2.SBX(0.4, 0.6, eta, (float64(i)+0.5)/1000)
			s += (c2 - c1)
		}
		return s
	}
	if !(spread(2) > spread(10) && spread(10) > spread(30)) {
		t.Errorf("mean spread for eta 2, 10, 30: %v %v %v", spread(2), spread(10), spread(30))
	}
	// Equal parents stay equal.
	if c1, c2 := nsga2.SBX(0.25, 0.25, 10, 0.9); c1 != 0.25 || c2 != 0.25 {
		t.Errorf("equal parents: %v %v", c1, c2)
	}
}

// TestConcurrentSamples asks for a generation's trials from several goroutines at once, as
// a worker pool does: each answer equals the sequential one.
func TestConcurrentSamples(t *testing.T) {
	p := searchtest.ZDT1(5)
	h, err := searchtest.Run(newSampler(t, nsga2.WithPopulation(10)), p, 100)
	if err != nil {
		t.Fatal(err)
	}
	shared := newSampler(t, nsga2.WithPopulation(10))
	got := make([]map[string]float64, 40)
	errs := make(chan error, len(got))
	for i := range got {
		go func() {
			v, err := shared.Sample(p.Space, p.Dirs, h[:60+i], 60+i)
			got[i] = v
			errs <- err
		}()
	}
	for range got {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], h[60+i].Params) {
			t.Errorf("trial %d: concurrent %v, sequential %v", 60+i, got[i], h[60+i].Params)
		}
	}
}
