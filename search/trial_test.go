package search_test

import (
	"errors"
	"math"
	"testing"

	"github.com/fhetune/fhetune/search"
)

func TestViolation(t *testing.T) {
	cases := []struct {
		c    []float64
		want float64
	}{
		{nil, 0},
		{[]float64{-1, 0}, 0},
		{[]float64{0.5, -2, 0.25}, 0.75},
		{[]float64{1, math.NaN()}, math.Inf(1)},
	}
	for _, c := range cases {
		tr := search.Trial{Constraints: c.c}
		if got := tr.Violation(); got != c.want {
			t.Errorf("Violation(%v) = %v, want %v", c.c, got, c.want)
		}
		if tr.Feasible() != (c.want == 0) {
			t.Errorf("Feasible(%v) = %v", c.c, tr.Feasible())
		}
	}
}

func TestCompleted(t *testing.T) {
	space := search.Space{Params: []search.Param{{Name: "x", Kind: search.Int, Low: 0, High: 3}}}
	dirs := []search.Direction{search.Minimize}
	history := []search.Trial{
		{Number: 4, State: search.Complete, Params: map[string]float64{"x": 1}, Values: []float64{2}},
		{Number: 0, State: search.Complete, Params: map[string]float64{"x": 0}, Values: []float64{1}},
		{Number: 1, State: search.Fail, Params: map[string]float64{"x": 2}},
		{Number: 2, State: search.Running, Params: map[string]float64{"x": 2}},
		{Number: 3, State: search.Complete, Params: map[string]float64{"x": 2}, Values: []float64{math.NaN()}},
		{Number: 5, State: search.Complete, Params: map[string]float64{"x": 7}, Values: []float64{0}},
		{Number: 6, State: search.Complete, Params: map[string]float64{"y": 1}, Values: []float64{0}},
		{Number: 7, State: search.Pruned, Params: map[string]float64{"x": 1}, Values: []float64{0}},
	}
	got, err := search.Completed(space, dirs, history)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Number != 0 || got[1].Number != 4 {
		t.Errorf("Completed = %+v, want trials 0 and 4", got)
	}
	bad := append(history, search.Trial{Number: 8, State: search.Complete, Params: map[string]float64{"x": 1}, Values: []float64{1, 2}})
	if _, err := search.Completed(space, dirs, bad); !errors.Is(err, search.ErrBadHistory) {
		t.Errorf("two values for one objective: %v", err)
	}
}

func TestCheckArgs(t *testing.T) {
	space := search.Space{Params: []search.Param{{Name: "x", Kind: search.Int, Low: 0, High: 3}}}
	if err := search.CheckArgs(space, []search.Direction{search.Maximize}, 0); err != nil {
		t.Error(err)
	}
	if err := search.CheckArgs(space, nil, 0); !errors.Is(err, search.ErrNoObjectives) {
		t.Error(err)
	}
	if err := search.CheckArgs(space, []search.Direction{7}, 0); !errors.Is(err, search.ErrBadDirection) {
		t.Error(err)
	}
	if err := search.CheckArgs(space, []search.Direction{search.Minimize}, -1); !errors.Is(err, search.ErrBadNumber) {
		t.Error(err)
	}
	if err := search.CheckArgs(search.Space{}, []search.Direction{search.Minimize}, 0); !errors.Is(err, search.ErrNoParams) {
		t.Error(err)
	}
}

func TestNewRand(t *testing.T) {
	a, b := search.NewRand(1, 5), search.NewRand(1, 5)
	for range 10 {
		if a.Uint64() != b.Uint64() {
			t.Fatal("same seed and number gave different streams")
		}
	}
	seen := map[uint64]bool{}
	for seed := int64(0); seed < 20; seed++ {
		for n := 0; n < 20; n++ {
			v := search.NewRand(seed, n).Uint64()
			if seen[v] {
				t.Fatalf("seed %d number %d repeats a first draw", seed, n)
			}
			seen[v] = true
		}
	}
}

func TestFailed(t *testing.T) {
	space := search.Space{Params: []search.Param{{Name: "x", Kind: search.Int, Low: 0, High: 3}}}
	history := []search.Trial{
		{Number: 4, State: search.Fail, Params: map[string]float64{"x": 2}},
		{Number: 1, State: search.Fail, Params: map[string]float64{"x": 1}},
		{Number: 2, State: search.Fail, Params: map[string]float64{"x": 9}}, // outside the space
		{Number: 3, State: search.Fail, Params: map[string]float64{}},       // no knobs
		{Number: 0, State: search.Complete, Params: map[string]float64{"x": 0}, Values: []float64{1}},
	}
	got := search.Failed(space, history)
	if len(got) != 2 || got[0].Number != 1 || got[1].Number != 4 {
		t.Errorf("failed trials %+v, want numbers 1 and 4", got)
	}
}
