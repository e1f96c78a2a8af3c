package fhe

import (
	"fmt"
	"testing"
)

// TestSearchGeneralMatchesSearchGLWE checks that the general loop of searchSet, run on
// constraints of TLUs, meets searchGLWE's answer for every (k, N): the same set, cost
// and headroom. searchSet hands such constraints to searchGLWE, so the two loops must
// not drift apart.
func TestSearchGeneralMatchesSearchGLWE(t *testing.T) {
	o, err := NewOptimizer()
	if err != nil {
		t.Fatal(err)
	}
	tables, err := o.decompositions(DefaultSecurity)
	if err != nil {
		t.Fatal(err)
	}
	tlu := func(precision int, log2Norm2, pe float64) constraint {
		return constraint{f: norm2Squared(log2Norm2), bound: VarianceBound(precision, pe)}
	}
	for _, c := range []struct {
		cons             []constraint
		levelled, atomic float64
	}{
		{[]constraint{tlu(4, 0, ReferencePError)}, 4096, 1},
		{[]constraint{tlu(1, 30, ReferencePError)}, 4096, 1},
		{[]constraint{tlu(8, 10, 1e-9)}, 100, 1},
		{[]constraint{tlu(2, 12, 0.01)}, 1, 1},
		{[]constraint{tlu(3, 4, 1e-4), tlu(5, 2, 1e-4), tlu(2, 10.5, 1e-4)}, 1000*4096 + 50*64 + 10*4096, 1060},
	} {
		t.Run(fmt.Sprintf("%d constraints/f=%g", len(c.cons), c.cons[0].f), func(t *testing.T) {
			for i := range tables.glwe {
				g := &tables.glwe[i]
				want, got := noCandidate(), noCandidate()
				pr := &pricing{t: tables}
				tables.searchGLWE(g, pr, c.cons, c.levelled, c.atomic, &want)
				tables.searchGeneral(g, pr, &constraintSet{list: c.cons}, objective{levelled: c.levelled, pbs: c.atomic, ks: c.atomic}, &got)
				if want != got {
					t.Fatalf("k=%d N=2^%d: searchGLWE %+v, searchGeneral %+v", g.k, g.logN, want, got)
				}
			}
		})
	}
}
