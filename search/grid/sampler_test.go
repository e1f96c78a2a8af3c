package grid_test

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/fhetune/fhetune/search"
	"github.com/fhetune/fhetune/search/grid"
)

var (
	space = search.Space{Params: []search.Param{
		{Name: "bits", Kind: search.Int, Low: 1, High: 3},
		{Name: "pruning", Kind: search.Float, Low: 0, High: 1, Step: 0.5},
		{Name: "x", Kind: search.Float, Low: -1, High: 1},
		{Name: "p_error", Kind: search.LogFloat, Low: 1e-4, High: 1e-1},
		{Name: "mode", Kind: search.Categorical, Choices: []string{"a", "b"}},
		{Name: "fixed", Kind: search.Float, Low: 0.5, High: 0.5},
	}}
	dirs = []search.Direction{search.Minimize}
)

func key(v map[string]float64) string {
	return fmt.Sprintf("%v|%v|%.6g|%.6g|%v|%v", v["bits"], v["pruning"], v["x"], v["p_error"], v["mode"], v["fixed"])
}

func TestEnumeratesEveryPointOnce(t *testing.T) {
	const want = 3 * 3 * 4 * 4 * 2 * 1
	for _, shuffle := range []bool{true, false} {
		t.Run(fmt.Sprintf("shuffle=%v", shuffle), func(t *testing.T) {
			s, err := grid.New(grid.WithPoints(4), grid.WithShuffle(shuffle), grid.WithSeed(3))
			if err != nil {
				t.Fatal(err)
			}
			size, err := s.Size(space)
			if err != nil || size != want {
				t.Fatalf("Size = %d, %v; want %d", size, err, want)
			}
			seen := map[string]bool{}
			perAxis := map[string]map[float64]bool{}
			for n := 0; n < size; n++ {
				v, err := s.Sample(space, dirs, nil, n)
				if err != nil {
					t.Fatal(err)
				}
				if err := space.Check(v); err != nil {
					t.Fatal(err)
				}
				k := key(v)
				if seen[k] {
					t.Fatalf("trial %d repeats point %s", n, k)
				}
				seen[k] = true
				for name, x := range v {
					if perAxis[name] == nil {
						perAxis[name] = map[float64]bool{}
					}
					perAxis[name][x] = true
				}
			}
			wantAxes := map[string][]float64{
				"bits": {1, 2, 3}, "pruning": {0, 0.5, 1}, "x": {-1, -1.0 / 3, 1.0 / 3, 1},
				"p_error": {1e-4, 1e-3, 1e-2, 1e-1}, "mode": {0, 1}, "fixed": {0.5},
			}
			for name, vals := range wantAxes {
				if len(perAxis[name]) != len(vals) {
					t.Errorf("axis %s has %d values, want %v", name, len(perAxis[name]), vals)
				}
				for _, w := range vals {
					found := false
					for got := range perAxis[name] {
						if math.Abs(got-w) <= 1e-12*math.Max(1, math.Abs(w)) {
							found = true
						}
					}
					if !found {
						t.Errorf("axis %s lacks %v (has %v)", name, w, perAxis[name])
					}
				}
			}
			if _, err := s.Sample(space, dirs, nil, size); !errors.Is(err, grid.ErrExhausted) {
				t.Errorf("trial %d: %v, want ErrExhausted", size, err)
			}
		})
	}
}

func TestOrder(t *testing.T) {
	lex, _ := grid.New(grid.WithShuffle(false), grid.WithPoints(4))
	v0, _ := lex.Sample(space, dirs, nil, 0)
	v1, _ := lex.Sample(space, dirs, nil, 1)
	if key(v0) != key(map[string]float64{"bits": 1, "pruning": 0, "x": -1, "p_error": 1e-4, "mode": 0, "fixed": 0.5}) {
		t.Errorf("first lexicographic point %v", v0)
	}
	if v1["mode"] != 1 || v1["p_error"] != 1e-4 {
		t.Errorf("the last varying parameter should vary fastest: %v", v1)
	}
	a, _ := grid.New(grid.WithSeed(1))
	b, _ := grid.New(grid.WithSeed(1))
	c, _ := grid.New(grid.WithSeed(2))
	same, differ := true, false
	for n := 0; n < 50; n++ {
		va, _ := a.Sample(space, dirs, nil, n)
		vb, _ := b.Sample(space, dirs, nil, n)
		vc, _ := c.Sample(space, dirs, nil, n)
		same = same && reflect.DeepEqual(va, vb)
		differ = differ || !reflect.DeepEqual(va, vc)
	}
	if !same || !differ {
		t.Errorf("same seed same order: %v; other seed other order: %v", same, differ)
	}
}

func TestLimitsAndOptions(t *testing.T) {
	big := search.Space{}
	for i := range 12 {
		big.Params = append(big.Params, search.Param{Name: fmt.Sprint("x", i), Kind: search.Float, Low: 0, High: 1})
	}
	s, _ := grid.New() // 5^12 points
	if _, err := s.Size(big); !errors.Is(err, grid.ErrTooLarge) {
		t.Errorf("Size of 5^12: %v", err)
	}
	if _, err := s.Sample(big, dirs, nil, 0); !errors.Is(err, grid.ErrTooLarge) {
		t.Errorf("Sample of 5^12: %v", err)
	}
	for name, opt := range map[string]grid.Option{
		"one point": grid.WithPoints(1), "max size 0": grid.WithMaxSize(0),
	} {
		if _, err := grid.New(opt); !errors.Is(err, grid.ErrOption) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := s.Sample(search.Space{Params: []search.Param{{Name: "x", Kind: search.LogFloat, Low: 0, High: 1}}}, dirs, nil, 0); !errors.Is(err, search.ErrLogRange) {
		t.Errorf("bad space: %v", err)
	}
}
