package fhe_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/fhetune/fhetune/fhe"
)

// tluGraph is the graph of count TLUs of the atomic pattern in one partition: a dot
// product of sumSize terms and 2-norm 2^log2Norm2 on bootstrapped ciphertexts, a
// keyswitch and a bootstrap.
func tluGraph(precision int, log2Norm2 float64, sumSize, count int, pe float64) fhe.Graph {
	return fhe.Graph{
		Partitions: 1,
		Decodings: []fhe.Decoding{{Name: "tlu", Precision: precision, Count: count,
			BR: []float64{math.Exp2(2 * log2Norm2)}, Bootstrap: true}},
		PBS:      []int{count},
		KS:       map[fhe.Switch]int{{From: 0, To: 0}: count},
		Levelled: []float64{float64(count * sumSize)},
		PError:   pe,
	}
}

// chain2 is a two-partition chain: partition 0 runs 2-bit TLUs fed by partition 1's
// bootstraps (2-norm 2^3), partition 1 runs 6-bit TLUs fed by partition 0's (2-norm 2^2).
func chain2(pe, gpe float64) fhe.Graph {
	return fhe.Graph{
		Partitions: 2,
		Decodings: []fhe.Decoding{
			{Name: "2-bit", Precision: 2, Count: 100, BR: []float64{0, 64}, Bootstrap: true, Src: 1, Dst: 0},
			{Name: "6-bit", Precision: 6, Count: 20, BR: []float64{16, 0}, Bootstrap: true, Src: 0, Dst: 1},
		},
		PBS:          []int{100, 20},
		KS:           map[fhe.Switch]int{{From: 1, To: 0}: 100, {From: 0, To: 1}: 20},
		Levelled:     []float64{100 * 64, 20 * 100},
		PError:       pe,
		GlobalPError: gpe,
	}
}

// chain3 is a three-partition chain of ten decodings: a 3-bit layer on fresh inputs
// (partition 0), a 6-bit layer with three rounding extractions (partition 1), a 4-bit
// layer with two (partition 2), a 4-bit layer and an 8-bit output in partition 2.
func chain3(pe, gpe float64) fhe.Graph {
	br := func(p int, v float64) []float64 {
		x := make([]float64, 3)
		x[p] = v
		return x
	}
	d := []fhe.Decoding{
		{Name: "fc1", Precision: 3, Count: 100, BR: br(0, 0), Fresh: br(0, 1024), Bootstrap: true, Src: 0, Dst: 0},
		{Name: "fc2", Precision: 6, Count: 50, BR: br(0, 64), Bootstrap: true, Src: 0, Dst: 1},
	}
	for k := 1; k <= 3; k++ {
		d = append(d, fhe.Decoding{Name: fmt.Sprintf("fc2 round bit %d", k), Precision: 0, Count: 50,
			BR: br(0, math.Ldexp(64, 2*k)), Bootstrap: true, Src: 0, Dst: 1})
	}
	d = append(d, fhe.Decoding{Name: "fc3", Precision: 4, Count: 20, BR: br(1, 256), Bootstrap: true, Src: 1, Dst: 2})
	for k := 1; k <= 2; k++ {
		d = append(d, fhe.Decoding{Name: fmt.Sprintf("fc3 round bit %d", k), Precision: 0, Count: 20,
			BR: br(1, math.Ldexp(256, 2*k)), Bootstrap: true, Src: 1, Dst: 2})
	}
	d = append(d,
		fhe.Decoding{Name: "fc4", Precision: 4, Count: 10, BR: br(2, 64), Bootstrap: true, Src: 2, Dst: 2},
		fhe.Decoding{Name: "fc4 output", Precision: 8, Count: 10, BR: br(2, 1024), Src: 2})
	return fhe.Graph{
		Partitions:   3,
		Decodings:    d,
		PBS:          []int{100, 200, 70},
		KS:           map[fhe.Switch]int{{From: 0, To: 0}: 100, {From: 0, To: 1}: 200, {From: 1, To: 2}: 60, {From: 2, To: 2}: 10},
		Levelled:     []float64{100 * 64, 200 * 100, 70 * 50},
		PError:       pe,
		GlobalPError: gpe,
	}
}

// checkGraph recomputes every decoding's variance and p_error, the complexity and the
// global p_error of s from the chosen sets with the public Params methods and
// KeySwitchBetween, and checks them against s and the graph's target. It returns the
// recomputed complexity.
func checkGraph(t *testing.T, g fhe.Graph, s fhe.GraphSolution) float64 {
	t.Helper()
	const sec = 128
	if len(s.Partitions) != g.Partitions || len(s.Decodings) != len(g.Decodings) {
		t.Fatalf("%d sets, %d decodings for %d partitions, %d decodings", len(s.Partitions), len(s.Decodings), g.Partitions, len(g.Decodings))
	}
	vBR := make([]float64, g.Partitions)
	vFresh := make([]float64, g.Partitions)
	for p, par := range s.Partitions {
		var err error
		if vBR[p], err = par.BlindRotationVariance(sec); err != nil {
			t.Fatalf("partition %d: %v", p, err)
		}
		if vFresh[p], err = fhe.MinVariance(par.GLWEDimension(), sec); err != nil {
			t.Fatalf("partition %d: %v", p, err)
		}
		if d, ok := s.Switches[fhe.Switch{From: p, To: p}]; ok && (d.Level != par.KSLevel() || d.LogBase != par.KSLogBase()) {
			t.Errorf("partition %d: set %v, switch %d→%d %+v", p, par, p, p, d)
		}
	}
	var ksCost float64
	switches := make([]fhe.Switch, 0, len(g.KS))
	for sw := range g.KS {
		switches = append(switches, sw)
	}
	slices.SortFunc(switches, func(a, b fhe.Switch) int { return (a.From-b.From)*1000 + a.To - b.To })
	for _, sw := range switches {
		d, ok := s.Switches[sw]
		if !ok {
			t.Fatalf("switch %v has no decomposition", sw)
		}
		_, c, err := fhe.KeySwitchBetween(s.Partitions[sw.From], s.Partitions[sw.To], d.Level, d.LogBase, sec)
		if err != nil {
			t.Fatal(err)
		}
		ksCost += float64(g.KS[sw]) * c
	}
	logOK, expected := 0.0, 0.0
	for i, dec := range g.Decodings {
		v := 0.0
		for p := range g.Partitions {
			v += dec.BR[p] * vBR[p]
		}
		if dec.Bootstrap {
			d := s.Switches[fhe.Switch{From: dec.Src, To: dec.Dst}]
			ks, _, err := fhe.KeySwitchBetween(s.Partitions[dec.Src], s.Partitions[dec.Dst], d.Level, d.LogBase, sec)
			if err != nil {
				t.Fatal(err)
			}
			v += ks + s.Partitions[dec.Dst].ModulusSwitchVariance()
		}
		for p := range g.Partitions {
			if dec.Fresh != nil {
				v += dec.Fresh[p] * vFresh[p]
			}
		}
		got := s.Decodings[i]
		assertRel(t, dec.Name+" variance", got.Variance, v, 1e-12)
		if got.Name != dec.Name {
			t.Errorf("decoding %d named %q, want %q", i, got.Name, dec.Name)
		}
		if g.PError != 0 {
			if b := fhe.VarianceBound(dec.Precision, g.PError); got.Bound != b || got.Variance > b || v > b*(1+1e-12) {
				t.Errorf("%s: variance %g (recomputed %g) above bound %g (reported %g)", dec.Name, got.Variance, v, b, got.Bound)
			}
		}
		assertRel(t, dec.Name+" p_error", got.PError, fhe.PErrorOfVariance(dec.Precision, v), 1e-9)
		logOK += float64(dec.Count) * math.Log1p(-got.PError)
		expected += float64(dec.Count) * got.PError
	}
	assertRel(t, "global p_error", s.GlobalPError, -math.Expm1(logOK), 1e-12)
	assertRel(t, "expected errors", s.ExpectedErrors, expected, 1e-12)
	if g.GlobalPError != 0 && s.GlobalPError > g.GlobalPError*(1+1e-9) {
		t.Errorf("global p_error %g above the target %g", s.GlobalPError, g.GlobalPError)
	}
	// Complexity, in the documented order: bootstraps, keyswitches, levelled operations.
	c := 0.0
	for p, par := range s.Partitions {
		c += float64(g.PBS[p]) * par.PBSComplexity()
	}
	c += ksCost
	for p, par := range s.Partitions {
		c += g.Levelled[p] * float64(par.GLWEDimension())
	}
	if c != s.Complexity {
		t.Errorf("complexity %.0f, recomputed %.0f", s.Complexity, c)
	}
	return c
}

// TestGraphOnePartitionIsOptimize: a graph of one TLU in one partition gets exactly
// Optimize's set, complexity, variance, bound and p_error, Concrete's reference rows
// included.
func TestGraphOnePartitionIsOptimize(t *testing.T) {
	o := newOptimizer(t)
	for _, c := range []struct {
		precision int
		log2Norm2 float64
		sumSize   int
		pe        float64
	}{
		{1, 0, 4096, fhe.ReferencePError},
		{2, 12, 4096, fhe.ReferencePError},
		{4, 0, 4096, fhe.ReferencePError},
		{4, 26, 4096, fhe.ReferencePError},
		{6, 0, 4096, fhe.ReferencePError},
		{8, 0, 4096, fhe.ReferencePError},
		{3, 4.5, 100, 1e-9},
		{5, 2, 64, fhe.DefaultPError},
		{7, 1, 1, 0.01},
	} {
		t.Run(fmt.Sprintf("bits=%d/log2norm2=%g/p_error=%g", c.precision, c.log2Norm2, c.pe), func(t *testing.T) {
			want, err := o.Optimize(fhe.Query{Precision: c.precision, Log2Norm2: c.log2Norm2, PError: c.pe, SumSize: c.sumSize})
			if err != nil {
				t.Fatal(err)
			}
			g := tluGraph(c.precision, c.log2Norm2, c.sumSize, 1, c.pe)
			s, err := o.Graph(g)
			if err != nil {
				t.Fatal(err)
			}
			d := s.Decodings[0]
			if s.Partitions[0] != want.Params || s.Complexity != want.Complexity || d.Variance != want.Variance ||
				d.Bound != want.VarianceBound || d.PError != want.PError {
				t.Errorf("graph %v (cost %.0f, variance %g, bound %g, p_error %g), Optimize %v (cost %.0f, variance %g, bound %g, p_error %g)",
					s.Partitions[0], s.Complexity, d.Variance, d.Bound, d.PError,
					want.Params, want.Complexity, want.Variance, want.VarianceBound, want.PError)
			}
			if sw := s.Switches[fhe.Switch{From: 0, To: 0}]; sw.Level != want.Params.KSLevel() || sw.LogBase != want.Params.KSLogBase() {
				t.Errorf("switch 0→0 %+v, set %v", sw, want.Params)
			}
			checkGraph(t, g, s)
			// Ten such TLUs: the same set, ten times the cost.
			s10, err := o.Graph(tluGraph(c.precision, c.log2Norm2, c.sumSize, 10, c.pe))
			if err != nil {
				t.Fatal(err)
			}
			if s10.Partitions[0] != want.Params || s10.Complexity != 10*want.Complexity {
				t.Errorf("ten TLUs: %v (cost %.0f), want %v (cost %.0f)", s10.Partitions[0], s10.Complexity, want.Params, 10*want.Complexity)
			}
		})
	}
}

// TestGraphOnePartitionBruteForce compares the one-partition search with an exhaustive
// one over a reduced space (every n of a window, every pair of decompositions), for a
// graph with a TLU, a TLU on fresh inputs, an output and a bit extraction.
func TestGraphOnePartitionBruteForce(t *testing.T) {
	space := fhe.Space{MinGLWERank: 1, MaxGLWERank: 2, MinLogPolyDegree: 10, MaxLogPolyDegree: 11, MinLWEDimension: 740, MaxLWEDimension: 745}
	o := newOptimizer(t, fhe.WithSpace(space))
	g := fhe.Graph{
		Partitions: 1,
		Decodings: []fhe.Decoding{
			{Name: "tlu", Precision: 4, Count: 30, BR: []float64{4}, Bootstrap: true},
			{Name: "input tlu", Precision: 3, Count: 10, BR: []float64{0}, Fresh: []float64{1 << 16}, Bootstrap: true},
			{Name: "round bit", Precision: 0, Count: 30, BR: []float64{1 << 14}, Bootstrap: true},
			{Name: "output", Precision: 7, Count: 5, BR: []float64{100}},
		},
		PBS: []int{70}, KS: map[fhe.Switch]int{{From: 0, To: 0}: 70}, Levelled: []float64{3000},
		PError: 1e-6,
	}
	s, err := o.Graph(g)
	if err != nil {
		t.Fatal(err)
	}
	checkGraph(t, g, s)
	type term struct {
		v, c float64
		l    [2]int
	}
	bestCost := math.Inf(1)
	var best fhe.ParamsLiteral
	for k := space.MinGLWERank; k <= space.MaxGLWERank; k++ {
		for logN := space.MinLogPolyDegree; logN <= space.MaxLogPolyDegree; logN++ {
			vFresh, err := fhe.MinVariance(k<<logN, 128)
			if err != nil {
				continue
			}
			for n := space.MinLWEDimension; n <= space.MaxLWEDimension; n++ {
				var brs, kss []term
				var ms float64
				for level := 1; level <= 64; level++ {
					for b := 1; level*b <= 64; b++ {
						p := fhe.ParamsLiteral{GLWERank: k, LogPolyDegree: logN, LWEDimension: n, BRLevel: level, BRLogBase: b, KSLevel: level, KSLogBase: b}.MustCompile()
						z, err := p.Noise(128)
						if err != nil {
							t.Fatal(err)
						}
						brs = append(brs, term{z.BlindRotation, p.PBSComplexity(), [2]int{level, b}})
						kss = append(kss, term{z.KeySwitch, p.KeySwitchComplexity(), [2]int{level, b}})
						ms = p.ModulusSwitchVariance()
					}
				}
				for _, br := range brs {
					for _, ks := range kss {
						ok := true
						for _, d := range g.Decodings {
							v := d.BR[0] * br.v
							if d.Bootstrap {
								v += ks.v + ms
							}
							if d.Fresh != nil {
								v += d.Fresh[0] * vFresh
							}
							if v > fhe.VarianceBound(d.Precision, g.PError) {
								ok = false
								break
							}
						}
						if c := 70*br.c + 70*ks.c + 3000*float64(k<<logN); ok && c < bestCost {
							bestCost = c
							best = fhe.ParamsLiteral{GLWERank: k, LogPolyDegree: logN, LWEDimension: n, BRLevel: br.l[0], BRLogBase: br.l[1], KSLevel: ks.l[0], KSLogBase: ks.l[1]}
						}
					}
				}
			}
		}
	}
	if s.Complexity != bestCost {
		t.Errorf("graph %v (cost %.0f), brute force %v (cost %.0f)", s.Partitions[0], s.Complexity, best, bestCost)
	}
}

// TestGraphOutputNeedsLessNoise: an output decrypted as it is, with no keyswitch and
// no modulus switch, bounds the bootstrap noise alone; a precise enough output forces a
// set with a smaller V_BR than the TLU alone needs.
func TestGraphOutputNeedsLessNoise(t *testing.T) {
	o := newOptimizer(t)
	const pe = 1e-5
	const norm2Sq = 64 // weights of the output's dot product, 2-norm 8
	alone, err := o.Optimize(fhe.Query{Precision: 4, PError: pe})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		precision int
		forces    bool
	}{{5, false}, {7, false}, {8, true}, {10, true}} {
		t.Run(fmt.Sprintf("output bits=%d", c.precision), func(t *testing.T) {
			g := tluGraph(4, 0, 4096, 1, pe)
			g.Decodings = append(g.Decodings, fhe.Decoding{Name: "output", Precision: c.precision, Count: 1, BR: []float64{norm2Sq}})
			s, err := o.Graph(g)
			if err != nil {
				t.Fatal(err)
			}
			checkGraph(t, g, s)
			bound := fhe.VarianceBound(c.precision, pe)
			// By hand: the output's variance is norm2²·V_BR of the chosen set, no more.
			vBR, _ := s.Partitions[0].BlindRotationVariance(128)
			if s.Decodings[1].Variance != norm2Sq*vBR || norm2Sq*vBR > bound {
				t.Errorf("output variance %g, 64·V_BR = %g, bound %g", s.Decodings[1].Variance, norm2Sq*vBR, bound)
			}
			cheapBR, _ := alone.Params.BlindRotationVariance(128)
			if fails := norm2Sq*cheapBR > bound; fails != c.forces {
				t.Fatalf("the TLU's own set %v: 64·V_BR = %g vs bound %g: fails %v, want %v", alone.Params, norm2Sq*cheapBR, bound, fails, c.forces)
			}
			if !c.forces {
				if s.Partitions[0] != alone.Params || s.Complexity != alone.Complexity {
					t.Errorf("output within reach: %v (cost %.0f), the TLU alone %v (cost %.0f)", s.Partitions[0], s.Complexity, alone.Params, alone.Complexity)
				}
				return
			}
			if !(vBR < cheapBR) || !(s.Complexity > alone.Complexity) {
				t.Errorf("forced set %v: V_BR %g (TLU alone %g), cost %.0f (alone %.0f)", s.Partitions[0], vBR, cheapBR, s.Complexity, alone.Complexity)
			}
		})
	}
}

// TestGraphBitExtraction: a decoding of precision 0 (a bit extraction reading the
// padding bit) has the bound (2^62/κ)²; with coefficient 2^(2L)·norm2² it asks of the
// bootstrap noise what an L-bit decoding of 2-norm norm2 asks, only its keyswitch and
// modulus switch are not scaled.
func TestGraphBitExtraction(t *testing.T) {
	o := newOptimizer(t)
	const pe = 1e-5
	kappa := fhe.Kappa(pe)
	assertRel(t, "bound at precision 0", fhe.VarianceBound(0, pe), math.Exp2(124)/(kappa*kappa), 1e-15)
	for _, c := range []struct {
		bits      int
		log2Norm2 float64
	}{{1, 0}, {3, 2}, {4, 0}, {6, 1}} {
		t.Run(fmt.Sprintf("L=%d/log2norm2=%g", c.bits, c.log2Norm2), func(t *testing.T) {
			scale := math.Exp2(float64(2 * c.bits))
			f := math.Exp2(2 * c.log2Norm2)
			// (2^62/κ)² = 2^(2L)·(2^(62−L)/κ)², exactly (powers of two).
			if b0, bL := fhe.VarianceBound(0, pe), fhe.VarianceBound(c.bits, pe); b0 != scale*bL {
				t.Fatalf("bound at 0 bits %g, 2^(2L)·bound at L bits %g", b0, scale*bL)
			}
			// As an output (no keyswitch, no modulus switch) the two decodings are the
			// same constraint scaled by 2^(2L): same set, variance scaled exactly.
			out := func(precision int, coef float64) fhe.Graph {
				g := tluGraph(c.bits, c.log2Norm2, 4096, 1, pe)
				g.Decodings = append(g.Decodings, fhe.Decoding{Name: "read", Precision: precision, Count: 1, BR: []float64{coef}})
				return g
			}
			a, err := o.Graph(out(0, scale*f))
			if err != nil {
				t.Fatal(err)
			}
			b, err := o.Graph(out(c.bits, f))
			if err != nil {
				t.Fatal(err)
			}
			if a.Partitions[0] != b.Partitions[0] || a.Complexity != b.Complexity || a.Decodings[1].Variance != scale*b.Decodings[1].Variance {
				t.Errorf("read at 0 bits: %v (variance %g), at %d bits: %v (variance %g)", a.Partitions[0], a.Decodings[1].Variance, c.bits, b.Partitions[0], b.Decodings[1].Variance)
			}
			// As a bootstrap input: the L-bit TLU's own set serves it, so it costs no more.
			g := tluGraph(c.bits, c.log2Norm2, 4096, 1, pe)
			g.Decodings[0] = fhe.Decoding{Name: "bit", Precision: 0, Count: 1, BR: []float64{scale * f}, Bootstrap: true}
			s, err := o.Graph(g)
			if err != nil {
				t.Fatal(err)
			}
			checkGraph(t, g, s)
			tlu, err := o.Optimize(fhe.Query{Precision: c.bits, Log2Norm2: c.log2Norm2, PError: pe})
			if err != nil {
				t.Fatal(err)
			}
			z, _ := tlu.Params.Noise(128)
			if v := scale*f*z.BlindRotation + z.KeySwitch + z.ModulusSwitch; v > fhe.VarianceBound(0, pe) {
				t.Errorf("the %d-bit TLU's set %v breaks the extraction: %g", c.bits, tlu.Params, v)
			}
			if s.Complexity > tlu.Complexity {
				t.Errorf("extraction costs %.0f, the %d-bit TLU %.0f", s.Complexity, c.bits, tlu.Complexity)
			}
			// Its bootstrap noise meets the L-bit requirement: f·V_BR ≤ bound at L bits.
			vBR, _ := s.Partitions[0].BlindRotationVariance(128)
			if f*vBR > fhe.VarianceBound(c.bits, pe) {
				t.Errorf("f·V_BR %g above the %d-bit bound", f*vBR, c.bits)
			}
		})
	}
}

// TestGraphTwoPartitionChain: partition 0 runs 2-bit TLUs on partition 1's bootstraps,
// partition 1 runs 6-bit TLUs on partition 0's. Chosen jointly, with the keyswitches
// between them in noise and cost, the sets differ from Optimizer.Circuit's per-group
// answer, every decoding is feasible when recomputed from the sets, and the
// independent answer, given its cheapest keyswitches, is infeasible or no cheaper.
func TestGraphTwoPartitionChain(t *testing.T) {
	o := newOptimizer(t)
	for _, pe := range []float64{1e-3, 1e-6, fhe.DefaultPError} {
		t.Run(fmt.Sprintf("p_error=%g", pe), func(t *testing.T) {
			g := chain2(pe, 0)
			s, err := o.Graph(g)
			if err != nil {
				t.Fatal(err)
			}
			cost := checkGraph(t, g, s)
			cs, err := o.Circuit(fhe.CircuitQuery{Groups: []fhe.TLUGroup{
				{Precision: 2, Log2Norm2: 3, Count: 100, SumSize: 64},
				{Precision: 6, Log2Norm2: 2, Count: 20, SumSize: 100},
			}, PError: pe})
			if err != nil {
				t.Fatal(err)
			}
			if s.Partitions[0] == cs.Groups[0].Params && s.Partitions[1] == cs.Groups[1].Params {
				t.Errorf("joint sets equal the independent ones: %v, %v", s.Partitions[0], s.Partitions[1])
			}
			indep := []fhe.Params{cs.Groups[0].Params, cs.Groups[1].Params}
			if c, ok := cheapestWithSwitches(t, g, indep); ok && c < cost {
				t.Errorf("the independent sets cost %.0f with their cheapest keyswitches, the joint answer %.0f", c, cost)
			} else {
				t.Logf("joint %v, %v: cost %.0f; independent %v, %v: feasible %v, cost %.0f", s.Partitions[0], s.Partitions[1], cost, indep[0], indep[1], ok, c)
			}
		})
	}
}

// cheapestWithSwitches returns the cost of g with the given sets and, for every switch,
// the cheapest decomposition (over every level and base) that keeps its decodings
// within their bounds, or false when some decoding cannot be met.
func cheapestWithSwitches(t *testing.T, g fhe.Graph, sets []fhe.Params) (float64, bool) {
	t.Helper()
	cost := 0.0
	for p, par := range sets {
		cost += float64(g.PBS[p])*par.PBSComplexity() + g.Levelled[p]*float64(par.GLWEDimension())
	}
	for sw, count := range g.KS {
		best := math.Inf(1)
		for level := 1; level <= 64; level++ {
			for b := 1; level*b <= 64; b++ {
				ks, c, err := fhe.KeySwitchBetween(sets[sw.From], sets[sw.To], level, b, 128)
				if err != nil {
					t.Fatal(err)
				}
				ok := true
				for _, d := range g.Decodings {
					if !d.Bootstrap || d.Src != sw.From || d.Dst != sw.To {
						continue
					}
					v := ks + sets[d.Dst].ModulusSwitchVariance()
					for p, f := range d.BR {
						vBR, _ := sets[p].BlindRotationVariance(128)
						v += f * vBR
					}
					ok = ok && v <= fhe.VarianceBound(d.Precision, g.PError)
				}
				if ok {
					best = min(best, c)
				}
			}
		}
		if math.IsInf(best, 1) {
			return 0, false
		}
		cost += float64(count) * best
	}
	return cost, true
}

// TestGraphThreePartitionChain checks every decoding of a three-partition chain with
// rounding extractions, fresh inputs and an output, and that the joint answer is no
// dearer than one set shared by all partitions.
func TestGraphThreePartitionChain(t *testing.T) {
	o := newOptimizer(t)
	for _, pe := range []float64{1e-4, 1e-7} {
		t.Run(fmt.Sprintf("p_error=%g", pe), func(t *testing.T) {
			g := chain3(pe, 0)
			s, err := o.Graph(g)
			if err != nil {
				t.Fatal(err)
			}
			cost := checkGraph(t, g, s)
			// The shared set: the graph with every partition merged into one.
			one := fhe.Graph{Partitions: 1, PBS: []int{0}, KS: map[fhe.Switch]int{}, Levelled: []float64{0}, PError: pe}
			for p := range 3 {
				one.PBS[0] += g.PBS[p]
				one.Levelled[0] += g.Levelled[p]
			}
			for _, c := range g.KS {
				one.KS[fhe.Switch{}] += c
			}
			for _, d := range g.Decodings {
				m := fhe.Decoding{Name: d.Name, Precision: d.Precision, Count: d.Count, Bootstrap: d.Bootstrap, BR: []float64{0}, Fresh: []float64{0}}
				for p := range 3 {
					m.BR[0] += d.BR[p]
					if d.Fresh != nil {
						m.Fresh[0] += d.Fresh[p]
					}
				}
				one.Decodings = append(one.Decodings, m)
			}
			shared, err := o.Graph(one)
			if err != nil {
				t.Fatal(err)
			}
			if cost > shared.Complexity {
				t.Errorf("joint cost %.0f above the shared set's %.0f", cost, shared.Complexity)
			}
			if distinct := len(slices.CompactFunc(slices.Clone(s.Partitions), func(a, b fhe.Params) bool { return a == b })); distinct < 2 {
				t.Errorf("one set for all partitions: %v", s.Partitions)
			}
		})
	}
}

// TestGraphGlobalPError: with a global budget the search may spend it unevenly; it is
// never dearer than the even split PErrorPerTLU(global, total count) and keeps the
// budget.
func TestGraphGlobalPError(t *testing.T) {
	o := newOptimizer(t)
	for _, c := range []struct {
		name string
		g    func(pe, gpe float64) fhe.Graph
	}{
		{"one partition", func(pe, gpe float64) fhe.Graph {
			g := tluGraph(5, 3, 500, 200, pe)
			g.GlobalPError = gpe
			g.Decodings = append(g.Decodings, fhe.Decoding{Name: "output", Precision: 8, Count: 10, BR: []float64{64}})
			return g
		}},
		{"two partitions", chain2},
		{"three partitions", chain3},
	} {
		for _, gpe := range []float64{0.01, 1e-6} {
			t.Run(fmt.Sprintf("%s/global_p_error=%g", c.name, gpe), func(t *testing.T) {
				g := c.g(0, gpe)
				total := 0
				for _, d := range g.Decodings {
					total += d.Count
				}
				even := c.g(fhe.PErrorPerTLU(gpe, total), 0)
				se, err := o.Graph(even)
				if err != nil {
					t.Fatal(err)
				}
				sg, err := o.Graph(g)
				if err != nil {
					t.Fatal(err)
				}
				checkGraph(t, g, sg)
				if sg.Complexity > se.Complexity {
					t.Errorf("global budget costs %.0f, the even split %.0f", sg.Complexity, se.Complexity)
				}
				if sg.GlobalPError > gpe*(1+1e-9) || se.GlobalPError > gpe*(1+1e-9) {
					t.Errorf("global p_error %g (even split %g) above %g", sg.GlobalPError, se.GlobalPError, gpe)
				}
				above := 0
				for _, d := range sg.Decodings {
					if d.PError > even.PError*(1+1e-9) {
						above++
					}
				}
				t.Logf("cost %.0f vs even split %.0f; %d decodings above the even split", sg.Complexity, se.Complexity, above)
			})
		}
	}
	// The two-partition chain spends its budget unevenly: a decoding takes more than
	// the even split, and the answer is strictly cheaper.
	g := chain2(0, 0.01)
	sg, err := o.Graph(g)
	if err != nil {
		t.Fatal(err)
	}
	se, err := o.Graph(chain2(fhe.PErrorPerTLU(0.01, 120), 0))
	if err != nil {
		t.Fatal(err)
	}
	if !(sg.Complexity < se.Complexity) || !slices.ContainsFunc(sg.Decodings, func(d fhe.DecodingSolution) bool { return d.PError > fhe.PErrorPerTLU(0.01, 120) }) {
		t.Errorf("global %.0f %+v, even split %.0f", sg.Complexity, sg.Decodings, se.Complexity)
	}
}

// randomGraph draws a graph of the given partitions with a seeded generator: decodings
// of 0..8 bits on one or two partitions' bootstraps, some on fresh inputs, most of them
// bootstrapped in a random partition, the rest outputs.
func randomGraph(r *rand.Rand, parts int, global bool) fhe.Graph {
	g := fhe.Graph{Partitions: parts, PBS: make([]int, parts), KS: map[fhe.Switch]int{}, Levelled: make([]float64, parts)}
	if global {
		g.GlobalPError = math.Pow(10, -1-5*r.Float64())
	} else {
		g.PError = math.Pow(10, -2-10*r.Float64())
	}
	for i := range 2 + r.IntN(3*parts) {
		src := r.IntN(parts)
		d := fhe.Decoding{Name: fmt.Sprint("d", i), Precision: r.IntN(9), Count: 1 + r.IntN(100), BR: make([]float64, parts), Src: src}
		d.BR[src] = math.Exp2(float64(r.IntN(16)))
		if r.IntN(3) == 0 {
			d.BR[r.IntN(parts)] += math.Exp2(float64(r.IntN(10)))
		}
		if r.IntN(5) == 0 {
			d.Fresh = make([]float64, parts)
			d.Fresh[src] = math.Exp2(float64(r.IntN(20)))
		}
		if r.IntN(5) != 0 {
			d.Bootstrap, d.Dst = true, r.IntN(parts)
			g.KS[fhe.Switch{From: d.Src, To: d.Dst}] += d.Count
			g.PBS[d.Dst] += d.Count
		}
		g.Decodings = append(g.Decodings, d)
	}
	for p := range parts {
		g.Levelled[p] = float64(r.IntN(10000))
	}
	return g
}

// TestGraphRandomFeasible checks every answer to seeded random graphs of one to four
// partitions, with either target, against the sets it names.
func TestGraphRandomFeasible(t *testing.T) {
	o := newOptimizer(t)
	r := rand.New(rand.NewPCG(7, 11))
	solved := 0
	for i := range 40 {
		g := randomGraph(r, 1+i%4, i%3 == 0)
		s, err := o.Graph(g)
		if errors.Is(err, fhe.ErrNoSolution) {
			continue
		}
		if err != nil {
			t.Fatalf("graph %d: %v", i, err)
		}
		solved++
		checkGraph(t, g, s)
	}
	if solved < 30 {
		t.Errorf("only %d of 40 graphs solved", solved)
	}
}

func TestGraphInvalid(t *testing.T) {
	o := newOptimizer(t)
	ok := chain2(1e-5, 0)
	mod := func(f func(g *fhe.Graph)) fhe.Graph {
		g := chain2(1e-5, 0)
		g.Decodings = slices.Clone(g.Decodings)
		g.KS = map[fhe.Switch]int{{From: 1, To: 0}: 100, {From: 0, To: 1}: 20}
		f(&g)
		return g
	}
	if _, err := o.Graph(ok); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		g    fhe.Graph
		want error
		says string
	}{
		{"no partition", mod(func(g *fhe.Graph) { g.Partitions = 0 }), fhe.ErrInvalidQuery, "partitions"},
		{"no decoding", mod(func(g *fhe.Graph) { g.Decodings = nil }), fhe.ErrInvalidQuery, "no decoding"},
		{"no target", mod(func(g *fhe.Graph) { g.PError = 0 }), fhe.ErrInvalidQuery, "p_error"},
		{"both targets", mod(func(g *fhe.Graph) { g.GlobalPError = 0.01 }), fhe.ErrInvalidQuery, "not both"},
		{"p_error 1", mod(func(g *fhe.Graph) { g.PError = 1 }), fhe.ErrInvalidQuery, "p_error"},
		{"global NaN", mod(func(g *fhe.Graph) { g.PError, g.GlobalPError = 0, math.NaN() }), fhe.ErrInvalidQuery, "global_p_error"},
		{"security", mod(func(g *fhe.Graph) { g.Security = 100 }), fhe.ErrUnsupportedSecurity, "100"},
		{"short BR", mod(func(g *fhe.Graph) { g.Decodings[1].BR = []float64{16} }), fhe.ErrInvalidQuery, `"6-bit"`},
		{"long Fresh", mod(func(g *fhe.Graph) { g.Decodings[0].Fresh = []float64{1, 2, 3} }), fhe.ErrInvalidQuery, "Fresh"},
		{"negative BR", mod(func(g *fhe.Graph) { g.Decodings[0].BR = []float64{-1, 64} }), fhe.ErrInvalidQuery, "coefficients"},
		{"infinite BR", mod(func(g *fhe.Graph) { g.Decodings[0].BR = []float64{math.Inf(1), 64} }), fhe.ErrInvalidQuery, "coefficients"},
		{"Src out of range", mod(func(g *fhe.Graph) { g.Decodings[0].Src = 2 }), fhe.ErrInvalidQuery, "Src"},
		{"Dst out of range", mod(func(g *fhe.Graph) { g.Decodings[1].Dst = -1 }), fhe.ErrInvalidQuery, "Dst"},
		{"count 0", mod(func(g *fhe.Graph) { g.Decodings[0].Count = 0 }), fhe.ErrInvalidQuery, "count 0"},
		{"precision 17", mod(func(g *fhe.Graph) { g.Decodings[0].Precision = 17 }), fhe.ErrInvalidQuery, "precision 17"},
		{"precision −1", mod(func(g *fhe.Graph) { g.Decodings[0].Precision = -1 }), fhe.ErrInvalidQuery, "precision -1"},
		{"short PBS", mod(func(g *fhe.Graph) { g.PBS = []int{100} }), fhe.ErrInvalidQuery, "PBS"},
		{"negative PBS", mod(func(g *fhe.Graph) { g.PBS = []int{100, -1} }), fhe.ErrInvalidQuery, "PBS"},
		{"long Levelled", mod(func(g *fhe.Graph) { g.Levelled = []float64{1, 2, 3} }), fhe.ErrInvalidQuery, "levelled"},
		{"switch out of range", mod(func(g *fhe.Graph) { g.KS[fhe.Switch{From: 0, To: 5}] = 1 }), fhe.ErrInvalidQuery, "0→5"},
		{"uncounted switch", mod(func(g *fhe.Graph) { delete(g.KS, fhe.Switch{From: 1, To: 0}) }), fhe.ErrInvalidQuery, "1→0"},
		{"no PBS at Dst", mod(func(g *fhe.Graph) { g.PBS = []int{0, 20} }), fhe.ErrInvalidQuery, "partition 0"},
		{"unreachable precision", mod(func(g *fhe.Graph) { g.Decodings[1].Precision, g.PError = 16, 1e-12 }), fhe.ErrNoSolution, `"6-bit"`},
		{"unreachable norm", mod(func(g *fhe.Graph) { g.Decodings[0].BR = []float64{0, 1 << 62} }), fhe.ErrNoSolution, `"2-bit"`},
		{"one partition: no solution", func() fhe.Graph {
			g := tluGraph(12, 5, 4096, 1, 1e-9)
			g.Decodings[0].Name = "wide"
			return g
		}(), fhe.ErrNoSolution, `"wide"`},
		{"global: no solution", mod(func(g *fhe.Graph) { g.Decodings[1].Precision, g.PError, g.GlobalPError = 14, 0, 1e-12 }), fhe.ErrNoSolution, `"6-bit"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := o.Graph(c.g)
			if !errors.Is(err, c.want) || !strings.Contains(fmt.Sprint(err), c.says) {
				t.Errorf("error %v, want %v saying %q", err, c.want, c.says)
			}
		})
	}
	// Validation did not touch the caller's graph.
	if ok.Decodings[0].Fresh != nil || len(ok.KS) != 2 {
		t.Errorf("graph changed: %+v", ok)
	}
}

// TestGraphNoSolutionAfterSearch: a decoding that some set can meet alone but not
// together with the others is named after the search.
func TestGraphNoSolutionAfterSearch(t *testing.T) {
	o := newOptimizer(t)
	g := chain2(1e-9, 0)
	// An 11-bit TLU of partition 1 on the bootstraps of both partitions (2-norm 2^8
	// each): every term alone is within reach, so the quick check passes, but no pair
	// of sets the search meets keeps it.
	g.Decodings = append(g.Decodings, fhe.Decoding{Name: "wide", Precision: 11, Count: 1, BR: []float64{1 << 16, 1 << 16}, Bootstrap: true, Src: 0, Dst: 1})
	_, err := o.Graph(g)
	if !errors.Is(err, fhe.ErrNoSolution) || !strings.Contains(err.Error(), `"wide"`) {
		t.Errorf("error %v, want ErrNoSolution naming \"wide\"", err)
	}
}

// TestGraphMemo: one optimizer answers the same graphs from several goroutines (run
// with -race) with the answers of a sequential optimizer; equal graphs share an entry;
// a caller that changes an answer does not change the memo.
func TestGraphMemo(t *testing.T) {
	seq := newOptimizer(t)
	shared := newOptimizer(t)
	graphs := []fhe.Graph{chain2(1e-5, 0), chain2(0, 0.01), chain3(1e-5, 0), tluGraph(4, 2, 100, 3, 1e-6)}
	want := make([]fhe.GraphSolution, len(graphs))
	for i, g := range graphs {
		s, err := seq.Graph(g)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = s
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(graphs))
	for w := range 4 {
		wg.Go(func() {
			for i := range graphs {
				j := (i + w) % len(graphs)
				s, err := shared.Graph(graphs[j])
				if err != nil || !slices.Equal(s.Partitions, want[j].Partitions) || s.Complexity != want[j].Complexity {
					errs <- fmt.Errorf("worker %d, graph %d: %v %v, want %v", w, j, s.Partitions, err, want[j].Partitions)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	a, _ := shared.Graph(graphs[0])
	a.Partitions[0] = fhe.Params{}
	a.Decodings[0].Variance = -1
	clear(a.Switches)
	// nil versus zero coefficients, zero keyswitch counts and explicit defaults share
	// the entry.
	g := chain2(1e-5, 0)
	g.Security = 128
	g.KS[fhe.Switch{From: 1, To: 1}] = 0
	g.Decodings[0].Fresh = []float64{0, 0}
	b, err := shared.Graph(g)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b.Partitions, want[0].Partitions) || b.Decodings[0] != want[0].Decodings[0] || len(b.Switches) != 2 {
		t.Errorf("after changing an answer: %+v", b)
	}
}

func TestKeySwitchBetween(t *testing.T) {
	a := concrete4Bit.MustCompile()
	b := fhe.ParamsLiteral{GLWERank: 1, LogPolyDegree: 12, LWEDimension: 880, BRLevel: 1, BRLogBase: 22, KSLevel: 4, KSLogBase: 4}.MustCompile()
	// From a set to itself: the set's own keyswitch.
	v, c, err := fhe.KeySwitchBetween(a, a, a.KSLevel(), a.KSLogBase(), 128)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := a.KeySwitchVariance(128); v != want || c != a.KeySwitchComplexity() {
		t.Errorf("a→a: %g, %g; the set says %g, %g", v, c, want, a.KeySwitchComplexity())
	}
	// b's big key (kN = 4096) to a's small key (n = 801) with 3×2^4: the formula.
	v, c, err = fhe.KeySwitchBetween(b, a, 3, 4, 128)
	if err != nil {
		t.Fatal(err)
	}
	vKSK, _ := fhe.MinVariance(801, 128)
	b2, b2l := math.Exp2(8), math.Exp2(24)
	want := 4096 * ((math.Exp2(128)/(12*b2l)-1.0/12)*0.5 + 1.0/16 + 3*vKSK*(b2+2)/12)
	assertRel(t, "variance b→a", v, want, 1e-14)
	if d := 4096.0 * 3; c != d+d*802+(d-1)*802+1 {
		t.Errorf("complexity b→a %g", c)
	}
	// The keyswitch of a with b's small key instead of its own: b's n is larger, its
	// key noise smaller.
	v2, _, _ := fhe.KeySwitchBetween(a, b, 3, 4, 128)
	if own, _ := a.KeySwitchVariance(128); !(v2 < own) {
		t.Errorf("a→b %g not below a→a %g", v2, own)
	}
	if _, _, err := fhe.KeySwitchBetween(a, b, 0, 4, 128); !errors.Is(err, fhe.ErrInvalidParams) {
		t.Errorf("level 0: %v", err)
	}
	if _, _, err := fhe.KeySwitchBetween(a, b, 3, 4, 100); !errors.Is(err, fhe.ErrUnsupportedSecurity) {
		t.Errorf("security 100: %v", err)
	}
}

// A circuit of two partitions: 2-bit TLUs fed by 6-bit ones and back. The sets are
// chosen together, with the keyswitches between their keys.
func ExampleOptimizer_Graph() {
	o, err := fhe.NewOptimizer()
	if err != nil {
		panic(err)
	}
	s, err := o.Graph(fhe.Graph{
		Partitions: 2,
		Decodings: []fhe.Decoding{
			{Name: "2-bit", Precision: 2, Count: 100, BR: []float64{0, 64}, Bootstrap: true, Src: 1, Dst: 0},
			{Name: "6-bit", Precision: 6, Count: 20, BR: []float64{16, 0}, Bootstrap: true, Src: 0, Dst: 1},
		},
		PBS:      []int{100, 20},
		KS:       map[fhe.Switch]int{{From: 1, To: 0}: 100, {From: 0, To: 1}: 20},
		Levelled: []float64{6400, 2000},
		PError:   1e-6,
	})
	if err != nil {
		panic(err)
	}
	for p, par := range s.Partitions {
		fmt.Printf("partition %d: %v\n", p, par)
	}
	fmt.Printf("keyswitch 1→0: %+v\n", s.Switches[fhe.Switch{From: 1, To: 0}])
	fmt.Printf("complexity %.4g, global p_error %.2e\n", s.Complexity, s.GlobalPError)
	// Output:
	// partition 0: k=4 N=2^9 n=774 br=1x23 ks=1x8
	// partition 1: k=1 N=2^12 n=847 br=1x22 ks=1x9
	// keyswitch 1→0: {Level:2 LogBase:6}
	// complexity 1.069e+10, global p_error 1.14e-04
}

// BenchmarkGraph measures the joint optimizer on an optimizer whose decomposition
// tables are built (goal: a three-partition chain of ten decodings well under 100 ms on
// one core):
//   - chain3 and chain2: a new graph each iteration (the target moves by 1e-12
//     relative), with a per-decoding p_error or a global one (global includes the
//     answer at the even split, which it starts from);
//   - cached: a graph answered before;
//   - ms/…: the same graphs by the milliseconds of the built-in calibration profile, on
//     an optimizer whose price tables are built.
func BenchmarkGraph(b *testing.B) {
	o, err := fhe.NewOptimizer()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := o.Optimize(fhe.Query{Precision: 1, PError: 0.5}); err != nil {
		b.Fatal(err)
	}
	om, err := fhe.NewOptimizer(fhe.WithTimer(defaultTimer(b)), fhe.WithCost(fhe.CostMS))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := om.Optimize(fhe.Query{Precision: 1, PError: 0.5}); err != nil {
		b.Fatal(err)
	}
	i := 0
	for _, c := range []struct {
		name string
		g    func(pe, gpe float64) fhe.Graph
		pe   float64
		gpe  float64
	}{
		{"chain3/p_error=1e-6", chain3, 1e-6, 0},
		{"chain3/global_p_error=0.01", chain3, 0, 0.01},
		{"chain2/p_error=1e-6", chain2, 1e-6, 0},
		{"chain2/global_p_error=0.01", chain2, 0, 0.01},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				i++
				f := 1 - 1e-12*float64(i)
				if _, err := o.Graph(c.g(c.pe*f, c.gpe*f)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("ms/"+c.name, func(b *testing.B) {
			for b.Loop() {
				i++
				f := 1 - 1e-12*float64(i)
				if _, err := om.Graph(c.g(c.pe*f, c.gpe*f)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("cached", func(b *testing.B) {
		g := chain3(1e-6, 0)
		if _, err := o.Graph(g); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := o.Graph(g); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestGraphVariancesTFHEGo recomputes the decodings' variances of a solved
// three-partition chain: Concrete's model gives the optimizer's own (to rounding); the
// tfhe-go model doubles every bootstrap-output term and scales the keyswitch within a
// set by (k·N − n)/(k·N), leaving keyswitches between sets, modulus switches and fresh
// encryptions as they are.
func TestGraphVariancesTFHEGo(t *testing.T) {
	o := newOptimizer(t)
	g := chain3(1e-5, 0)
	s, err := o.Graph(g)
	if err != nil {
		t.Fatal(err)
	}
	con, err := g.Variances(s, fhe.ConcreteNoise)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := g.Variances(s, fhe.TFHEGoNoise)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range g.Decodings {
		if v := s.Decodings[i].Variance; math.Abs(con[i]-v) > 1e-12*v {
			t.Errorf("%s: Concrete variance %g, the optimizer's %g", d.Name, con[i], s.Decodings[i].Variance)
		}
		// Rebuild the tfhe-go variance term by term.
		want := 0.0
		for p, c := range d.BR {
			z, _ := s.Partitions[p].Noise(128)
			want += 2 * c * z.BlindRotation
		}
		for p, c := range d.Fresh {
			z, _ := s.Partitions[p].Noise(128)
			want += c * z.BSKVariance
		}
		if d.Bootstrap {
			sw := s.Switches[fhe.Switch{From: d.Src, To: d.Dst}]
			ks, _, _ := fhe.KeySwitchBetween(s.Partitions[d.Src], s.Partitions[d.Dst], sw.Level, sw.LogBase, 128)
			if p := s.Partitions[d.Src]; d.Src == d.Dst {
				ks *= float64(p.GLWEDimension()-p.LWEDimension()) / float64(p.GLWEDimension())
			}
			want += ks + s.Partitions[d.Dst].ModulusSwitchVariance()
		}
		if math.Abs(tg[i]-want) > 1e-12*want {
			t.Errorf("%s: tfhe-go variance %g, want %g", d.Name, tg[i], want)
		}
	}
	if _, err := g.Variances(fhe.GraphSolution{}, fhe.TFHEGoNoise); err == nil {
		t.Error("a solution of no partitions: no error")
	}
}
