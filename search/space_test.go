package search_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/fhetune/fhetune/search"
)

func TestSpaceValidate(t *testing.T) {
	ok := search.Param{Name: "n_w_bits", Kind: search.Int, Low: 2, High: 8}
	cases := []struct {
		name    string
		params  []search.Param
		want    error
		mention string // the message must name this
	}{
		{"empty space", nil, search.ErrNoParams, "no parameters"},
		{"no name", []search.Param{{Kind: search.Int, Low: 1, High: 2}}, search.ErrEmptyName, "#0"},
		{"zero kind", []search.Param{{Name: "x", Low: 1, High: 2}}, search.ErrUnknownKind, `"x"`},
		{"low above high", []search.Param{ok, {Name: "pruning", Kind: search.Float, Low: 0.5, High: 0.1}},
			search.ErrLowAboveHigh, `"pruning": low above high: low 0.5 > high 0.1`},
		{"int low above high", []search.Param{{Name: "n_a_bits", Kind: search.Int, Low: 8, High: 2}},
			search.ErrLowAboveHigh, `"n_a_bits"`},
		{"empty categorical", []search.Param{{Name: "mode", Kind: search.Categorical}}, search.ErrEmptyRange, `"mode"`},
		{"duplicate choice", []search.Param{{Name: "mode", Kind: search.Categorical, Choices: []string{"a", "a"}}},
			search.ErrDuplicateChoice, `"a"`},
		{"log with zero low", []search.Param{{Name: "p_error", Kind: search.LogFloat, Low: 0, High: 0.1}},
			search.ErrLogRange, `"p_error"`},
		{"log with negative low", []search.Param{{Name: "p_error", Kind: search.LogFloat, Low: -1, High: 0.1}},
			search.ErrLogRange, "low -1"},
		{"log with step", []search.Param{{Name: "p_error", Kind: search.LogFloat, Low: 1e-5, High: 0.1, Step: 0.01}},
			search.ErrBadStep, "no step"},
		{"negative step", []search.Param{{Name: "pruning", Kind: search.Float, Low: 0, High: 1, Step: -0.1}},
			search.ErrBadStep, "negative"},
		{"fractional int bound", []search.Param{{Name: "bits", Kind: search.Int, Low: 1.5, High: 4}},
			search.ErrBadStep, "low 1.5"},
		{"fractional int step", []search.Param{{Name: "bits", Kind: search.Int, Low: 1, High: 4, Step: 0.5}},
			search.ErrBadStep, "step 0.5"},
		{"NaN bound", []search.Param{{Name: "x", Kind: search.Float, Low: math.NaN(), High: 1}}, search.ErrNotFinite, "low"},
		{"infinite bound", []search.Param{{Name: "x", Kind: search.Float, Low: 0, High: math.Inf(1)}}, search.ErrNotFinite, "high"},
		{"too many values", []search.Param{{Name: "x", Kind: search.Int, Low: 0, High: 1e17}}, search.ErrTooManyValues, `"x"`},
		{"duplicate name", []search.Param{ok, ok}, search.ErrDuplicateName, `"n_w_bits"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := search.Space{Params: c.params}.Validate()
			if !errors.Is(err, c.want) {
				t.Fatalf("Validate() = %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), c.mention) || !strings.HasPrefix(err.Error(), "search: ") {
				t.Errorf("message %q should start with search: and mention %q", err, c.mention)
			}
			if strings.Count(err.Error(), "search:") != 1 {
				t.Errorf("message %q repeats the package prefix", err)
			}
		})
	}
	valid := search.Space{Params: []search.Param{
		ok,
		{Name: "fixed", Kind: search.Float, Low: 0.5, High: 0.5},
		{Name: "p_error", Kind: search.LogFloat, Low: 1e-6, High: 1e-2},
		{Name: "pruning", Kind: search.Float, Low: 0, High: 0.5, Step: 0.1},
		{Name: "rounding", Kind: search.Categorical, Choices: []string{"off", "6", "8"}},
	}}
	if err := valid.Validate(); err != nil {
		t.Errorf("valid space: %v", err)
	}
}

func TestParamValues(t *testing.T) {
	cases := []struct {
		name    string
		p       search.Param
		count   int
		in, out []float64 // values contained / not contained
	}{
		{"int", search.Param{Name: "b", Kind: search.Int, Low: 2, High: 8}, 7,
			[]float64{2, 5, 8}, []float64{1, 9, 2.5, math.NaN()}},
		{"int step", search.Param{Name: "b", Kind: search.Int, Low: 2, High: 9, Step: 3}, 3,
			[]float64{2, 5, 8}, []float64{9, 3, 11}},
		{"float step", search.Param{Name: "p", Kind: search.Float, Low: 0, High: 0.5, Step: 0.1}, 6,
			[]float64{0, 0.1, 0.30000000000000004, 0.3, 0.5}, []float64{0.05, 0.6, -0.1}},
		{"float", search.Param{Name: "x", Kind: search.Float, Low: -1, High: 1}, 0,
			[]float64{-1, 0.123, 1}, []float64{1.0001, -2}},
		{"fixed float", search.Param{Name: "x", Kind: search.Float, Low: 0.5, High: 0.5}, 1,
			[]float64{0.5}, []float64{0.4, 0.6}},
		{"log", search.Param{Name: "e", Kind: search.LogFloat, Low: 1e-6, High: 1e-2}, 0,
			[]float64{1e-6, 3e-4, 1e-2}, []float64{0, 0.1}},
		{"categorical", search.Param{Name: "c", Kind: search.Categorical, Choices: []string{"a", "b", "c"}}, 3,
			[]float64{0, 1, 2}, []float64{-1, 3, 0.5}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.p.Count(); got != c.count {
				t.Errorf("Count = %d, want %d", got, c.count)
			}
			for _, v := range c.in {
				if !c.p.Contains(v) {
					t.Errorf("Contains(%v) = false", v)
				}
				if s := c.p.Snap(v); math.Abs(s-v) > 1e-12 {
					t.Errorf("Snap(%v) = %v", v, s)
				}
				if back := c.p.FromUnit(c.p.ToUnit(v)); math.Abs(back-v) > 1e-12*math.Max(1, math.Abs(v)) {
					t.Errorf("FromUnit(ToUnit(%v)) = %v", v, back)
				}
			}
			for _, v := range c.out {
				if c.p.Contains(v) {
					t.Errorf("Contains(%v) = true", v)
				}
				if s := c.p.Snap(v); !c.p.Contains(s) {
					t.Errorf("Snap(%v) = %v is not contained", v, s)
				}
			}
			for _, u := range []float64{-1, 0, 1e-9, 0.3, 0.5, 0.999999, 1, 2, math.NaN()} {
				if v := c.p.FromUnit(u); !c.p.Contains(v) {
					t.Errorf("FromUnit(%v) = %v is not contained", u, v)
				}
			}
			rng := search.NewRand(1, 2)
			for range 200 {
				if v := c.p.Uniform(rng); !c.p.Contains(v) {
					t.Fatalf("Uniform gave %v", v)
				}
			}
		})
	}
}

// TestUniformCoversEveryValue checks that discrete draws reach both ends equally often.
func TestUniformCoversEveryValue(t *testing.T) {
	p := search.Param{Name: "b", Kind: search.Int, Low: 2, High: 5}
	rng := search.NewRand(7, 0)
	counts := map[float64]int{}
	for range 4000 {
		counts[p.Uniform(rng)]++
	}
	for v := 2.0; v <= 5; v++ {
		if counts[v] < 850 || counts[v] > 1150 {
			t.Errorf("value %v drawn %d times of 4000", v, counts[v])
		}
	}
	// Log-uniform: about half the draws fall below the geometric mean.
	lp := search.Param{Name: "e", Kind: search.LogFloat, Low: 1e-6, High: 1e-2}
	below := 0
	for range 4000 {
		if lp.Uniform(rng) < 1e-4 {
			below++
		}
	}
	if below < 1850 || below > 2150 {
		t.Errorf("%d of 4000 log-uniform draws below 1e-4", below)
	}
}

func TestLabel(t *testing.T) {
	cases := []struct {
		p    search.Param
		v    float64
		want string
	}{
		{search.Param{Kind: search.Int}, 6, "6"},
		{search.Param{Kind: search.Float, Step: 0.1}, 0.30000000000000004, "0.3"},
		{search.Param{Kind: search.LogFloat}, 1e-5, "1e-05"},
		{search.Param{Kind: search.Categorical, Choices: []string{"off", "6"}}, 0, "off"},
	}
	for _, c := range cases {
		if got := c.p.Label(c.v); got != c.want {
			t.Errorf("Label(%v) = %q, want %q", c.v, got, c.want)
		}
	}
}

func TestSpaceCheck(t *testing.T) {
	s := search.Space{Params: []search.Param{
		{Name: "b", Kind: search.Int, Low: 2, High: 8},
		{Name: "c", Kind: search.Categorical, Choices: []string{"x", "y"}},
	}}
	if err := s.Check(map[string]float64{"b": 3, "c": 1}); err != nil {
		t.Errorf("valid values: %v", err)
	}
	for name, vals := range map[string]map[string]float64{
		"missing":      {"b": 3},
		"out of range": {"b": 9, "c": 0},
		"unknown":      {"b": 3, "c": 0, "z": 1},
	} {
		if err := s.Check(vals); !errors.Is(err, search.ErrBadValue) {
			t.Errorf("%s: Check = %v", name, err)
		}
	}
}

func TestSpaceKey(t *testing.T) {
	a := search.Space{Params: []search.Param{{Name: "b", Kind: search.Int, Low: 2, High: 8}}}
	b := search.Space{Params: []search.Param{{Name: "b", Kind: search.Int, Low: 2, High: 8}}}
	c := search.Space{Params: []search.Param{{Name: "b", Kind: search.Int, Low: 2, High: 7}}}
	if a.Key() != b.Key() || a.Key() == c.Key() {
		t.Errorf("keys: %q %q %q", a.Key(), b.Key(), c.Key())
	}
	if !a.Equal(b) || a.Equal(c) || !a.Equal(a.Clone()) {
		t.Error("Equal disagrees with Key")
	}
	d := search.Space{Params: []search.Param{{Name: "c", Kind: search.Categorical, Choices: []string{"x", "y"}}}}
	e := d.Clone()
	d.Params[0].Choices[1] = "z"
	if e.Params[0].Choices[1] != "y" || d.Equal(e) {
		t.Error("Clone shares Choices")
	}
}
