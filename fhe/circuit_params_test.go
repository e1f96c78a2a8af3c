package fhe_test

import (
	"errors"
	"math"
	"testing"

	"github.com/fhetune/fhetune/fhe"
)

func TestCircuitMulti(t *testing.T) {
	o := newOptimizer(t)
	groups := []fhe.TLUGroup{
		{Precision: 3, Log2Norm2: 4, Count: 1000},
		{Precision: 6, Log2Norm2: 2, Count: 50, SumSize: 64},
		{Precision: 2, Log2Norm2: 10.5, Count: 10},
	}
	cs, err := o.Circuit(fhe.CircuitQuery{Groups: groups, GlobalPError: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	if cs.TLUCount != 1060 || cs.Strategy != fhe.MultiParameter {
		t.Errorf("count %d, strategy %v", cs.TLUCount, cs.Strategy)
	}
	assertRel(t, "per-TLU target", cs.PErrorPerTLU, fhe.PErrorPerTLU(0.01, 1060), 0)
	if cs.GlobalPError > 0.01*(1+1e-9) {
		t.Errorf("actual global p_error %g above 0.01", cs.GlobalPError)
	}
	total := 0.0
	for i, g := range groups {
		want, err := o.Optimize(fhe.Query{Precision: g.Precision, Log2Norm2: g.Log2Norm2, PError: cs.PErrorPerTLU, SumSize: g.SumSize})
		if err != nil {
			t.Fatal(err)
		}
		if cs.Groups[i] != want {
			t.Errorf("group %d: %v, Optimize says %v", i, cs.Groups[i].Params, want.Params)
		}
		total += float64(g.Count) * want.Complexity
	}
	if cs.Complexity != total {
		t.Errorf("complexity %g, want %g", cs.Complexity, total)
	}

	// A per-TLU target is used as is.
	cs, err = o.Circuit(fhe.CircuitQuery{Groups: groups, PError: 1e-4})
	if err != nil {
		t.Fatal(err)
	}
	if cs.PErrorPerTLU != 1e-4 {
		t.Errorf("per-TLU target %g", cs.PErrorPerTLU)
	}
}

func TestCircuitMono(t *testing.T) {
	o := newOptimizer(t)
	groups := []fhe.TLUGroup{
		{Precision: 3, Log2Norm2: 4, Count: 1000},
		{Precision: 5, Log2Norm2: 2, Count: 50, SumSize: 64},
		{Precision: 2, Log2Norm2: 10.5, Count: 10},
	}
	mono, err := o.Circuit(fhe.CircuitQuery{Groups: groups, GlobalPError: 0.01, Strategy: fhe.MonoParameter})
	if err != nil {
		t.Fatal(err)
	}
	multi, err := o.Circuit(fhe.CircuitQuery{Groups: groups, GlobalPError: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	if mono.Complexity < multi.Complexity {
		t.Errorf("one shared set (%g) is cheaper than one set per group (%g)", mono.Complexity, multi.Complexity)
	}
	for i, s := range mono.Groups {
		if s.Params != mono.Groups[0].Params {
			t.Errorf("group %d uses %v, group 0 %v", i, s.Params, mono.Groups[0].Params)
		}
		sum := groups[i].SumSize
		if sum == 0 {
			sum = fhe.DefaultSumSize
		}
		checkSolution(t, s, fhe.Query{Precision: groups[i].Precision, Log2Norm2: groups[i].Log2Norm2,
			PError: mono.PErrorPerTLU, Security: 128, SumSize: sum}, fhe.DefaultSpace())
	}
	if mono.GlobalPError > 0.01*(1+1e-9) {
		t.Errorf("actual global p_error %g above 0.01", mono.GlobalPError)
	}

	// One group: mono is the single-TLU optimum.
	one, err := o.Circuit(fhe.CircuitQuery{Groups: groups[1:2], PError: 1e-5, Strategy: fhe.MonoParameter})
	if err != nil {
		t.Fatal(err)
	}
	want, err := o.Optimize(fhe.Query{Precision: 5, Log2Norm2: 2, PError: 1e-5, SumSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	if one.Groups[0].Params != want.Params {
		t.Errorf("mono with one group %v, Optimize %v", one.Groups[0].Params, want.Params)
	}
}

// TestCircuitMonoBruteForce compares the mono-parameter search with an exhaustive one
// over a reduced space, for two groups whose binding constraints differ.
func TestCircuitMonoBruteForce(t *testing.T) {
	space := fhe.Space{MinGLWERank: 1, MaxGLWERank: 2, MinLogPolyDegree: 10, MaxLogPolyDegree: 11, MinLWEDimension: 760, MaxLWEDimension: 779}
	o := newOptimizer(t, fhe.WithSpace(space))
	groups := []fhe.TLUGroup{
		{Precision: 4, Log2Norm2: 0, Count: 3, SumSize: 100},
		{Precision: 2, Log2Norm2: 9, Count: 5, SumSize: 7},
	}
	const pe = 1e-5
	cs, err := o.Circuit(fhe.CircuitQuery{Groups: groups, PError: pe, Strategy: fhe.MonoParameter})
	var bg []bruteGroup
	for _, g := range groups {
		bg = append(bg, bruteGroup{q: fhe.Query{Precision: g.Precision, Log2Norm2: g.Log2Norm2, PError: pe, SumSize: g.SumSize}, count: g.Count})
	}
	want, _ := bruteForce(t, space, bg)
	if want == nil {
		t.Fatalf("brute force finds no set; optimizer: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := cs.Groups[0].Params.Literal(); got != want.lit || cs.Complexity != want.cost {
		t.Errorf("mono %v (cost %.0f), brute force %v (cost %.0f)", got, cs.Complexity, want.lit, want.cost)
	}
}

func TestCircuitInvalid(t *testing.T) {
	o := newOptimizer(t)
	g := []fhe.TLUGroup{{Precision: 4, Count: 10}}
	for _, c := range []struct {
		name string
		q    fhe.CircuitQuery
		want error
	}{
		{"no group", fhe.CircuitQuery{PError: 1e-3}, fhe.ErrInvalidQuery},
		{"no target", fhe.CircuitQuery{Groups: g}, fhe.ErrInvalidQuery},
		{"both targets", fhe.CircuitQuery{Groups: g, PError: 1e-3, GlobalPError: 1e-2}, fhe.ErrInvalidQuery},
		{"global 1", fhe.CircuitQuery{Groups: g, GlobalPError: 1}, fhe.ErrInvalidQuery},
		{"count 0", fhe.CircuitQuery{Groups: []fhe.TLUGroup{{Precision: 4}}, PError: 1e-3}, fhe.ErrInvalidQuery},
		{"precision 20", fhe.CircuitQuery{Groups: []fhe.TLUGroup{{Precision: 20, Count: 1}}, PError: 1e-3}, fhe.ErrInvalidQuery},
		{"bad strategy", fhe.CircuitQuery{Groups: g, PError: 1e-3, Strategy: 7}, fhe.ErrInvalidQuery},
		{"multi: no solution", fhe.CircuitQuery{Groups: []fhe.TLUGroup{{Precision: 4, Count: 1}, {Precision: 12, Log2Norm2: 5, Count: 1}}, PError: 1e-9}, fhe.ErrNoSolution},
		{"mono: no solution", fhe.CircuitQuery{Groups: []fhe.TLUGroup{{Precision: 4, Count: 1}, {Precision: 12, Log2Norm2: 5, Count: 1}}, PError: 1e-9, Strategy: fhe.MonoParameter}, fhe.ErrNoSolution},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := o.Circuit(c.q); !errors.Is(err, c.want) {
				t.Errorf("error %v, want %v", err, c.want)
			}
		})
	}
	if s := fhe.MonoParameter.String() + fhe.MultiParameter.String(); s != "monomulti" {
		t.Errorf("strategy names %q", s)
	}
	if math.IsNaN(fhe.PErrorPerTLU(0.5, 2)) {
		t.Error("NaN per-TLU target")
	}
}
