package parego_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/fhetune/fhetune/search"
	"github.com/fhetune/fhetune/search/parego"
	"github.com/fhetune/fhetune/search/random"
	"github.com/fhetune/fhetune/search/searchtest"
)

func newSampler(t testing.TB, opts ...parego.Option) *parego.Sampler {
	t.Helper()
	s, err := parego.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestDeterminism: the same seed gives the same trials; a fresh sampler asked for one
// trial with the history reversed gives the same answer; another seed does not.
func TestDeterminism(t *testing.T) {
	p := searchtest.Mixed()
	h1, err := searchtest.Run(newSampler(t, parego.WithSeed(9)), p, 30)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := searchtest.Run(newSampler(t, parego.WithSeed(9)), p, 30)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(h1, h2) {
		t.Fatal("same seed gave different trials")
	}
	rev := make([]search.Trial, 25)
	for i := range rev {
		rev[i] = h1[24-i]
	}
	got, err := newSampler(t, parego.WithSeed(9)).Sample(p.Space, p.Dirs, rev, 25)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, h1[25].Params) {
		t.Errorf("cold sample %v, warm %v", got, h1[25].Params)
	}
	h3, _ := searchtest.Run(newSampler(t, parego.WithSeed(10)), p, 30)
	if reflect.DeepEqual(h1[25].Params, h3[25].Params) {
		t.Error("seeds 9 and 10 gave the same trial")
	}
}

// TestSingleObjective: on the mixed-kind problem (every parameter kind, minimum 0) the
// model finds a point within 0.15 of the minimum in 40 trials, which random search does
// not on average.
func TestSingleObjective(t *testing.T) {
	p := searchtest.Mixed()
	var pg, rnd float64
	for seed := int64(0); seed < 4; seed++ {
		h, err := searchtest.Run(newSampler(t, parego.WithSeed(seed)), p, 40)
		if err != nil {
			t.Fatal(err)
		}
		pg += searchtest.Best(h) / 4
		r, _ := random.New(random.WithSeed(seed))
		h, err = searchtest.Run(r, p, 40)
		if err != nil {
			t.Fatal(err)
		}
		rnd += searchtest.Best(h) / 4
	}
	t.Logf("mean best after 40 trials: parego %.3f, random %.3f", pg, rnd)
	if pg > 0.15 || pg >= rnd {
		t.Fatalf("parego's mean best %.3f (random %.3f), want ≤ 0.15 and below random's", pg, rnd)
	}
}

// TestZDT1BeatsRandom: on ZDT1 with 6 variables and 50 trials, ParEGO's mean hypervolume
// over 4 seeds (reference point (1.1, 11)) is above random search's by more than 1.
func TestZDT1BeatsRandom(t *testing.T) {
	p := searchtest.ZDT1(6)
	ref := []float64{1.1, 11}
	var pg, rnd float64
	for seed := int64(0); seed < 4; seed++ {
		h, err := searchtest.Run(newSampler(t, parego.WithSeed(seed)), p, 50)
		if err != nil {
			t.Fatal(err)
		}
		pg += searchtest.Hypervolume(h, p.Dirs, ref) / 4
		r, _ := random.New(random.WithSeed(seed))
		h, _ = searchtest.Run(r, p, 50)
		rnd += searchtest.Hypervolume(h, p.Dirs, ref) / 4
	}
	t.Logf("ZDT1(6), 50 trials: parego %.3f, random %.3f", pg, rnd)
	if !(pg > rnd+1) {
		t.Fatalf("parego %.3f is not clearly above random %.3f", pg, rnd)
	}
}

// TestConstrained: with constraints, the model steers to feasible points: after 40
// trials of the constrained problem, more of ParEGO's last 28 trials are feasible than
// random search's.
func TestConstrained(t *testing.T) {
	p := searchtest.Constr()
	count := func(h []search.Trial) int {
		n := 0
		for _, tr := range h[12:] {
			if tr.Feasible() {
				n++
			}
		}
		return n
	}
	h, err := searchtest.Run(newSampler(t, parego.WithSeed(3)), p, 40)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := random.New(random.WithSeed(3))
	hr, _ := searchtest.Run(r, p, 40)
	if count(h) <= count(hr) {
		t.Fatalf("feasible trials after the start-up: parego %d, random %d", count(h), count(hr))
	}
}

// TestLargeHistory: the model sees at most 100 trials, so a sample with 2,000 trials of
// history stays valid (and fast).
func TestLargeHistory(t *testing.T) {
	p := searchtest.Knobs()
	h := searchtest.RandomHistory(p, 2000, 1)
	got, err := newSampler(t).Sample(p.Space, p.Dirs, h, 2000)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Space.Check(got); err != nil {
		t.Fatal(err)
	}
}

func TestBadInput(t *testing.T) {
	for name, opt := range map[string]parego.Option{
		"startup 1":    parego.WithStartupTrials(1),
		"candidates 0": parego.WithCandidates(0),
		"acquisition":  parego.WithAcquisition(7),
	} {
		if _, err := parego.New(opt); !errors.Is(err, parego.ErrOption) {
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
