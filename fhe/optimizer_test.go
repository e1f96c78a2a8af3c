package fhe_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/fhetune/fhetune/fhe"
)

func newOptimizer(t testing.TB, opts ...fhe.OptimizerOption) *fhe.Optimizer {
	t.Helper()
	o, err := fhe.NewOptimizer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestOptimizeConcreteReference checks rows of Concrete's v0 reference table for 128 bits
// (compilers/concrete-optimizer/v0-parameters/ref/v0_last_128: p_error 6.334e-5, sum
// size 4096, cost in units of 2^20 rounded down). The models are the same, so the sets
// must be too.
func TestOptimizeConcreteReference(t *testing.T) {
	o := newOptimizer(t)
	for _, c := range []struct {
		precision, log2Norm2 int
		want                 fhe.ParamsLiteral
		cost                 int64
	}{
		{1, 0, fhe.ParamsLiteral{GLWERank: 5, LogPolyDegree: 8, LWEDimension: 592, BRLevel: 1, BRLogBase: 15, KSLevel: 3, KSLogBase: 3}, 30},
		{1, 30, fhe.ParamsLiteral{GLWERank: 4, LogPolyDegree: 9, LWEDimension: 625, BRLevel: 22, BRLogBase: 2, KSLevel: 12, KSLogBase: 1}, 556},
		{2, 12, fhe.ParamsLiteral{GLWERank: 3, LogPolyDegree: 9, LWEDimension: 659, BRLevel: 3, BRLogBase: 9, KSLevel: 4, KSLogBase: 3}, 80},
		{3, 8, fhe.ParamsLiteral{GLWERank: 3, LogPolyDegree: 9, LWEDimension: 739, BRLevel: 2, BRLogBase: 12, KSLevel: 5, KSLogBase: 3}, 71},
		{4, 0, concrete4Bit, 76},
		{4, 6, fhe.ParamsLiteral{GLWERank: 2, LogPolyDegree: 10, LWEDimension: 759, BRLevel: 1, BRLogBase: 23, KSLevel: 5, KSLogBase: 3}, 78},
		{4, 26, fhe.ParamsLiteral{GLWERank: 2, LogPolyDegree: 10, LWEDimension: 727, BRLevel: 44, BRLogBase: 1, KSLevel: 14, KSLogBase: 1}, 1383},
		{5, 5, fhe.ParamsLiteral{GLWERank: 1, LogPolyDegree: 11, LWEDimension: 822, BRLevel: 1, BRLogBase: 23, KSLevel: 8, KSLogBase: 2}, 117},
		{6, 0, fhe.ParamsLiteral{GLWERank: 1, LogPolyDegree: 12, LWEDimension: 880, BRLevel: 1, BRLogBase: 22, KSLevel: 4, KSLogBase: 4}, 236},
		{7, 14, fhe.ParamsLiteral{GLWERank: 1, LogPolyDegree: 13, LWEDimension: 892, BRLevel: 5, BRLogBase: 8, KSLevel: 9, KSLogBase: 2}, 1467},
		{8, 0, fhe.ParamsLiteral{GLWERank: 1, LogPolyDegree: 14, LWEDimension: 1006, BRLevel: 2, BRLogBase: 15, KSLevel: 5, KSLogBase: 4}, 1761},
		{10, 10, fhe.ParamsLiteral{GLWERank: 1, LogPolyDegree: 16, LWEDimension: 1125, BRLevel: 6, BRLogBase: 6, KSLevel: 24, KSLogBase: 1}, 22057},
	} {
		t.Run(fmt.Sprintf("bits=%d/log2norm2=%d", c.precision, c.log2Norm2), func(t *testing.T) {
			s, err := o.Optimize(fhe.Query{Precision: c.precision, Log2Norm2: float64(c.log2Norm2), PError: fhe.ReferencePError})
			if err != nil {
				t.Fatal(err)
			}
			if s.Params.Literal() != c.want {
				t.Errorf("got %v, Concrete picks %v", s.Params, c.want)
			}
			if got := int64(s.Complexity / (1 << 20)); got != c.cost {
				t.Errorf("cost %d·2^20, Concrete's %d·2^20", got, c.cost)
			}
		})
	}
	// Where Concrete's table ends, so does ours.
	for _, c := range [][2]int{{1, 31}, {2, 30}, {4, 27}, {8, 19}, {10, 14}} {
		_, err := o.Optimize(fhe.Query{Precision: c[0], Log2Norm2: float64(c[1]), PError: fhe.ReferencePError})
		if !errors.Is(err, fhe.ErrNoSolution) {
			t.Errorf("precision %d, log2 norm2 %d: error %v, want ErrNoSolution", c[0], c[1], err)
		}
	}
}

// checkSolution asserts that s answers q, lies in the space, is secure and meets the
// variance bound, with values that the public Params methods reproduce.
func checkSolution(t *testing.T, s fhe.Solution, q fhe.Query, space fhe.Space) {
	t.Helper()
	p := s.Params
	if p.GLWERank() < space.MinGLWERank || p.GLWERank() > space.MaxGLWERank ||
		p.LogPolyDegree() < space.MinLogPolyDegree || p.LogPolyDegree() > space.MaxLogPolyDegree ||
		p.LWEDimension() < space.MinLWEDimension || p.LWEDimension() > space.MaxLWEDimension ||
		p.BRLevel()*p.BRLogBase() > 64 || p.KSLevel()*p.KSLogBase() > 64 {
		t.Fatalf("%v: %v outside the space %+v", q, p, space)
	}
	sec := q.Security
	if sec == 0 {
		sec = 128
	}
	// Security: both keys are secure at the level (MinVariance errs otherwise).
	if _, err := fhe.MinVariance(p.GLWEDimension(), sec); err != nil {
		t.Fatalf("%v: %v: GLWE key: %v", q, p, err)
	}
	if _, err := fhe.MinVariance(p.LWEDimension(), sec); err != nil {
		t.Fatalf("%v: %v: LWE key: %v", q, p, err)
	}
	v, err := p.DecodingVariance(q.Log2Norm2, sec)
	if err != nil {
		t.Fatal(err)
	}
	bound := fhe.VarianceBound(q.Precision, q.PError)
	if v != s.Variance || v > bound || s.VarianceBound != bound {
		t.Fatalf("%v: %v: variance %g (reported %g) vs bound %g (reported %g)", q, p, v, s.Variance, bound, s.VarianceBound)
	}
	if pe, _ := p.PError(q.Precision, q.Log2Norm2, sec); pe != s.PError || pe > q.PError*(1+1e-12) {
		t.Fatalf("%v: %v: p_error %g (reported %g) above target %g", q, p, pe, s.PError, q.PError)
	}
	sum := q.SumSize
	if c := p.Complexity(sum); c != s.Complexity {
		t.Fatalf("%v: complexity %g, Params says %g", q, s.Complexity, c)
	}
}

func TestOptimizeMeetsConstraints(t *testing.T) {
	o := newOptimizer(t)
	solved := 0
	for _, pe := range []float64{0.1, fhe.ReferencePError, fhe.DefaultPError, 1e-100} {
		for prec := 1; prec <= 16; prec++ {
			for l := 0.0; l <= 32; l += 1.5 {
				q := fhe.Query{Precision: prec, Log2Norm2: l, PError: pe, SumSize: 1 + prec*100}
				s, err := o.Optimize(q)
				if errors.Is(err, fhe.ErrNoSolution) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				q.Security = 128
				checkSolution(t, s, q, fhe.DefaultSpace())
				solved++
			}
		}
	}
	if solved < 200 {
		t.Errorf("only %d of the queries solved", solved)
	}
}

// bruteCand is one set of a brute-force search with the optimizer's comparison keys.
type bruteCand struct {
	cost, ratio, cmux, ks1 float64
	lit                    fhe.ParamsLiteral
}

// bruteBetter is the optimizer's documented total order: cost, then variance relative to
// the bound (worst group), then CMux variance, then keyswitch variance per coefficient,
// then k, log2 N, n, br level, br base, ks level, ks base.
func bruteBetter(a, b *bruteCand) bool {
	if b == nil {
		return true
	}
	if a.cost != b.cost {
		return a.cost < b.cost
	}
	if a.ratio != b.ratio {
		return a.ratio < b.ratio
	}
	if a.cmux != b.cmux {
		return a.cmux < b.cmux
	}
	if a.ks1 != b.ks1 {
		return a.ks1 < b.ks1
	}
	x := []int{a.lit.GLWERank, a.lit.LogPolyDegree, a.lit.LWEDimension, a.lit.BRLevel, a.lit.BRLogBase, a.lit.KSLevel, a.lit.KSLogBase}
	y := []int{b.lit.GLWERank, b.lit.LogPolyDegree, b.lit.LWEDimension, b.lit.BRLevel, b.lit.BRLogBase, b.lit.KSLevel, b.lit.KSLogBase}
	for i := range x {
		if x[i] != y[i] {
			return x[i] < y[i]
		}
	}
	return false
}

// bruteGroup is one TLU group of a brute-force problem.
type bruteGroup struct {
	q     fhe.Query
	count int
}

type decomp struct {
	z fhe.Noise
	c fhe.Cost
	l [2]int
}

// bruteForce enumerates every set of the space (every k, N, n and every pair of
// decompositions with level·log2base ≤ 64) and returns the best one for the groups
// under cost Σ count·Complexity(sum size), per (k, N) and overall. Variance and cost
// come from the public Params methods; a pair combines the blind-rotation terms of one
// decomposition with the keyswitch terms of the other.
func bruteForce(t *testing.T, space fhe.Space, groups []bruteGroup) (best *bruteCand, perGLWE map[[2]int]*bruteCand) {
	t.Helper()
	perGLWE = map[[2]int]*bruteCand{}
	bounds := make([]float64, len(groups))
	for i, g := range groups {
		bounds[i] = fhe.VarianceBound(g.q.Precision, g.q.PError)
	}
	for k := space.MinGLWERank; k <= space.MaxGLWERank; k++ {
		for logN := space.MinLogPolyDegree; logN <= space.MaxLogPolyDegree; logN++ {
			if _, err := fhe.MinVariance(k<<logN, 128); err != nil {
				continue
			}
			var glweBest *bruteCand
			for n := space.MinLWEDimension; n <= space.MaxLWEDimension; n++ {
				var brs, kss []decomp
				for level := 1; level <= 64; level++ {
					for b := 1; level*b <= 64; b++ {
						p := fhe.ParamsLiteral{GLWERank: k, LogPolyDegree: logN, LWEDimension: n,
							BRLevel: level, BRLogBase: b, KSLevel: level, KSLogBase: b}.MustCompile()
						z, err := p.Noise(128)
						if err != nil {
							t.Fatal(err)
						}
						d := decomp{z: z, c: p.Cost(1), l: [2]int{level, b}}
						brs = append(brs, d)
						kss = append(kss, d)
					}
				}
				for _, br := range brs {
					for _, ks := range kss {
						z := br.z
						z.KeySwitch, z.KeySwitchPerCoefficient = ks.z.KeySwitch, ks.z.KeySwitchPerCoefficient
						cand := bruteCand{cmux: z.CMux, ks1: z.KeySwitchPerCoefficient,
							lit: fhe.ParamsLiteral{GLWERank: k, LogPolyDegree: logN, LWEDimension: n,
								BRLevel: br.l[0], BRLogBase: br.l[1], KSLevel: ks.l[0], KSLogBase: ks.l[1]}}
						ok := true
						for i, g := range groups {
							v := z.AtDecoding(g.q.Log2Norm2)
							bound := bounds[i]
							if v > bound {
								ok = false
								break
							}
							cand.ratio = math.Max(cand.ratio, v/bound)
							c := fhe.Cost{PBS: br.c.PBS, KeySwitch: ks.c.KeySwitch,
								DotProduct: float64(g.q.SumSize) * float64(k<<logN)}
							cand.cost += float64(g.count) * c.Total()
						}
						if ok && bruteBetter(&cand, glweBest) {
							kept := cand
							glweBest = &kept
						}
					}
				}
			}
			if glweBest != nil {
				perGLWE[[2]int{k, logN}] = glweBest
				if bruteBetter(glweBest, best) {
					best = glweBest
				}
			}
		}
	}
	return best, perGLWE
}

// TestOptimizeBruteForce compares the optimizer with an exhaustive search over reduced
// spaces (all decompositions, every n of a window): same set, same cost, and the same
// cheapest set for every (k, N).
func TestOptimizeBruteForce(t *testing.T) {
	spaces := []struct {
		name    string
		space   fhe.Space
		queries []fhe.Query
	}{
		{"k=1..2/logN=10..11/n=780..809", fhe.Space{MinGLWERank: 1, MaxGLWERank: 2, MinLogPolyDegree: 10, MaxLogPolyDegree: 11, MinLWEDimension: 780, MaxLWEDimension: 809},
			[]fhe.Query{
				{Precision: 4, Log2Norm2: 0, PError: 6.3e-5},
				{Precision: 4, Log2Norm2: 0, PError: fhe.ReferencePError},
				{Precision: 3, Log2Norm2: 9, PError: 1e-3},
				{Precision: 5, Log2Norm2: 2.5, PError: fhe.ReferencePError},
				{Precision: 2, Log2Norm2: 20, PError: 1e-9, SumSize: 10},
				{Precision: 6, Log2Norm2: 0, PError: 0.01},
				{Precision: 7, Log2Norm2: 3, PError: fhe.DefaultPError}, // no solution
			}},
		{"k=3..4/logN=8..9/n=600..619", fhe.Space{MinGLWERank: 3, MaxGLWERank: 4, MinLogPolyDegree: 8, MaxLogPolyDegree: 9, MinLWEDimension: 600, MaxLWEDimension: 619},
			[]fhe.Query{
				{Precision: 1, Log2Norm2: 0, PError: fhe.ReferencePError},
				{Precision: 1, Log2Norm2: 25, PError: fhe.ReferencePError},
				{Precision: 2, Log2Norm2: 7, PError: 1e-6, SumSize: 100000},
			}},
	}
	for _, sp := range spaces {
		t.Run(sp.name, func(t *testing.T) {
			o := newOptimizer(t, fhe.WithSpace(sp.space))
			for _, q := range sp.queries {
				nq := q
				if nq.SumSize == 0 {
					nq.SumSize = fhe.DefaultSumSize
				}
				want, perGLWE := bruteForce(t, sp.space, []bruteGroup{{q: nq, count: 1}})
				s, err := o.Optimize(q)
				if want == nil {
					if !errors.Is(err, fhe.ErrNoSolution) {
						t.Errorf("%v: brute force finds no set, optimizer: %v, %v", q, s.Params, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%v: brute force finds %v, optimizer: %v", q, want.lit, err)
				}
				if s.Params.Literal() != want.lit || s.Complexity != want.cost {
					t.Errorf("%v: optimizer %v (cost %.0f), brute force %v (cost %.0f)", q, s.Params, s.Complexity, want.lit, want.cost)
				}
				alts, err := o.Alternatives(q)
				if err != nil {
					t.Fatal(err)
				}
				if len(alts) != len(perGLWE) {
					t.Errorf("%v: %d alternatives, brute force has %d (k, N) with a solution", q, len(alts), len(perGLWE))
				}
				for _, a := range alts {
					b := perGLWE[[2]int{a.Params.GLWERank(), a.Params.LogPolyDegree()}]
					if b == nil || a.Params.Literal() != b.lit {
						t.Errorf("%v: alternative %v, brute force %+v", q, a.Params, b)
					}
				}
			}
		})
	}
}

// TestOptimizeNaive checks the optimizer against a plain loop over complete sets
// (Compile, DecodingVariance, Complexity for each) on a tiny space.
func TestOptimizeNaive(t *testing.T) {
	space := fhe.Space{MinGLWERank: 2, MaxGLWERank: 2, MinLogPolyDegree: 10, MaxLogPolyDegree: 10, MinLWEDimension: 799, MaxLWEDimension: 802}
	o := newOptimizer(t, fhe.WithSpace(space))
	for _, q := range []fhe.Query{
		{Precision: 4, Log2Norm2: 0, PError: 6.3e-5, SumSize: 4096},
		{Precision: 4, Log2Norm2: 12, PError: 1e-3, SumSize: 1},
	} {
		var best *bruteCand
		bound := fhe.VarianceBound(q.Precision, q.PError)
		for n := space.MinLWEDimension; n <= space.MaxLWEDimension; n++ {
			for bl := 1; bl <= 64; bl++ {
				for bb := 1; bl*bb <= 64; bb++ {
					for kl := 1; kl <= 64; kl++ {
						for kb := 1; kl*kb <= 64; kb++ {
							lit := fhe.ParamsLiteral{GLWERank: 2, LogPolyDegree: 10, LWEDimension: n, BRLevel: bl, BRLogBase: bb, KSLevel: kl, KSLogBase: kb}
							p, err := lit.Compile()
							if err != nil {
								t.Fatal(err)
							}
							v, err := p.DecodingVariance(q.Log2Norm2, 128)
							if err != nil {
								t.Fatal(err)
							}
							if v > bound {
								continue
							}
							c := p.Complexity(q.SumSize)
							if best == nil || c < best.cost || (c == best.cost && v/bound < best.ratio) {
								best = &bruteCand{cost: c, ratio: v / bound, lit: lit}
							}
						}
					}
				}
			}
		}
		s, err := o.Optimize(q)
		if err != nil {
			t.Fatal(err)
		}
		if best == nil || s.Params.Literal() != best.lit {
			t.Errorf("%v: optimizer %v, naive loop %+v", q, s.Params, best)
		}
	}
}

// TestOptimizeMonotone: more precision, a larger norm2 or a smaller p_error never gets
// cheaper (and never turns "no solution" into a solution).
func TestOptimizeMonotone(t *testing.T) {
	o := newOptimizer(t)
	cost := func(prec int, l, pe float64) float64 {
		s, err := o.Optimize(fhe.Query{Precision: prec, Log2Norm2: l, PError: pe})
		if errors.Is(err, fhe.ErrNoSolution) {
			return math.Inf(1)
		}
		if err != nil {
			t.Fatal(err)
		}
		return s.Complexity
	}
	pes := []float64{0.2, 1e-3, fhe.ReferencePError, 1e-9, fhe.DefaultPError, 1e-30}
	for pi, pe := range pes {
		for prec := 1; prec <= 10; prec++ {
			for l := 0.0; l <= 30; l += 0.5 {
				c := cost(prec, l, pe)
				if n := cost(prec+1, l, pe); n < c {
					t.Errorf("precision %d→%d at log2 norm2 %g, p_error %g: cost %g → %g", prec, prec+1, l, pe, c, n)
				}
				if n := cost(prec, l+0.5, pe); n < c {
					t.Errorf("log2 norm2 %g→%g at precision %d, p_error %g: cost %g → %g", l, l+0.5, prec, pe, c, n)
				}
				if pi+1 < len(pes) {
					if n := cost(prec, l, pes[pi+1]); n < c {
						t.Errorf("p_error %g→%g at precision %d, log2 norm2 %g: cost %g → %g", pe, pes[pi+1], prec, l, c, n)
					}
				}
			}
		}
	}
}

// TestOptimizeConcurrent runs the same queries from several goroutines against one
// optimizer (run with -race) and checks that every answer equals the sequential one.
func TestOptimizeConcurrent(t *testing.T) {
	seq := newOptimizer(t)
	shared := newOptimizer(t)
	var queries []fhe.Query
	for prec := 1; prec <= 6; prec++ {
		for l := 0; l <= 12; l += 4 {
			queries = append(queries, fhe.Query{Precision: prec, Log2Norm2: float64(l), PError: 1e-6})
		}
	}
	want := make([]fhe.Solution, len(queries))
	for i, q := range queries {
		s, err := seq.Optimize(q)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = s
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(queries))
	for w := range 4 {
		wg.Go(func() {
			for i := range queries {
				j := (i + w*7) % len(queries)
				s, err := shared.Optimize(queries[j])
				if err != nil || s.Params != want[j].Params || s.Complexity != want[j].Complexity {
					errs <- fmt.Errorf("worker %d, %v: %v %v, want %v", w, queries[j], s.Params, err, want[j].Params)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// A cached answer is the same value; defaults and −0 share the entry.
	a, _ := shared.Optimize(fhe.Query{Precision: 3, Log2Norm2: math.Copysign(0, -1), PError: 1e-6, Security: 128, SumSize: fhe.DefaultSumSize})
	b, _ := shared.Optimize(fhe.Query{Precision: 3, PError: 1e-6})
	if a != b {
		t.Errorf("defaults and explicit values differ: %+v vs %+v", a, b)
	}
}

func TestOptimizeInvalid(t *testing.T) {
	o := newOptimizer(t)
	for _, c := range []struct {
		name string
		q    fhe.Query
		want error
	}{
		{"precision 0", fhe.Query{Precision: 0, PError: 1e-3}, fhe.ErrInvalidQuery},
		{"precision 17", fhe.Query{Precision: 17, PError: 1e-3}, fhe.ErrInvalidQuery},
		{"p_error 0", fhe.Query{Precision: 4}, fhe.ErrInvalidQuery},
		{"p_error 1", fhe.Query{Precision: 4, PError: 1}, fhe.ErrInvalidQuery},
		{"negative norm2", fhe.Query{Precision: 4, PError: 1e-3, Log2Norm2: -1}, fhe.ErrInvalidQuery},
		{"NaN norm2", fhe.Query{Precision: 4, PError: 1e-3, Log2Norm2: math.NaN()}, fhe.ErrInvalidQuery},
		{"negative sum size", fhe.Query{Precision: 4, PError: 1e-3, SumSize: -3}, fhe.ErrInvalidQuery},
		{"security 100", fhe.Query{Precision: 4, PError: 1e-3, Security: 100}, fhe.ErrUnsupportedSecurity},
		{"16 bits", fhe.Query{Precision: 16, PError: 0.5}, fhe.ErrNoSolution},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := o.Optimize(c.q)
			if !errors.Is(err, c.want) {
				t.Errorf("error %v, want %v", err, c.want)
			}
		})
	}
	_, err := o.Optimize(fhe.Query{Precision: 16, Log2Norm2: 3, PError: 1e-9})
	for _, part := range []string{"precision 16", "log2 norm2 3", "p_error 1e-09"} {
		if err == nil || !contains(err.Error(), part) {
			t.Errorf("no-solution error %q does not name %q", err, part)
		}
	}
	for _, s := range []fhe.Space{
		{MinGLWERank: 0, MaxGLWERank: 1, MinLogPolyDegree: 8, MaxLogPolyDegree: 9, MinLWEDimension: 512, MaxLWEDimension: 600},
		{MinGLWERank: 1, MaxGLWERank: 1, MinLogPolyDegree: 9, MaxLogPolyDegree: 8, MinLWEDimension: 512, MaxLWEDimension: 600},
		{MinGLWERank: 1, MaxGLWERank: 1, MinLogPolyDegree: 8, MaxLogPolyDegree: 9, MinLWEDimension: 700, MaxLWEDimension: 600},
	} {
		if _, err := fhe.NewOptimizer(fhe.WithSpace(s)); !errors.Is(err, fhe.ErrInvalidQuery) {
			t.Errorf("space %+v: error %v", s, err)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestAlternatives(t *testing.T) {
	o := newOptimizer(t)
	q := fhe.Query{Precision: 4, Log2Norm2: 2, PError: 1e-5}
	alts, err := o.Alternatives(q)
	if err != nil {
		t.Fatal(err)
	}
	best, err := o.Optimize(q)
	if err != nil {
		t.Fatal(err)
	}
	if alts[0].Params != best.Params {
		t.Errorf("first alternative %v, optimum %v", alts[0].Params, best.Params)
	}
	seen := map[[2]int]bool{}
	for i, a := range alts {
		key := [2]int{a.Params.GLWERank(), a.Params.LogPolyDegree()}
		if seen[key] {
			t.Errorf("(k, N) = %v twice", key)
		}
		seen[key] = true
		if i > 0 && a.Complexity < alts[i-1].Complexity {
			t.Errorf("alternatives not sorted at %d", i)
		}
		checkSolution(t, a, fhe.Query{Precision: 4, Log2Norm2: 2, PError: 1e-5, Security: 128, SumSize: fhe.DefaultSumSize}, fhe.DefaultSpace())
	}
}

func TestExplain(t *testing.T) {
	o := newOptimizer(t)
	s, err := o.Optimize(fhe.Query{Precision: 5, Log2Norm2: 4, PError: 1e-4, SumSize: 300})
	if err != nil {
		t.Fatal(err)
	}
	e := s.Explain()
	sumV, shareV := 0.0, 0.0
	for _, term := range e.Variance {
		sumV += term.Value
		shareV += term.Share
	}
	assertRel(t, "variance terms", sumV, s.Variance, 1e-12)
	assertRel(t, "variance shares", shareV, 1, 1e-12)
	sumC := 0.0
	for _, term := range e.Cost {
		sumC += term.Value
	}
	if sumC != s.Complexity {
		t.Errorf("cost terms add to %g, complexity %g", sumC, s.Complexity)
	}
	if e.Cost[2].Value != 300*float64(s.Params.GLWEDimension()) {
		t.Errorf("dot product term %g", e.Cost[2].Value)
	}
	if !(e.Headroom >= 1) || !(e.FFTShare > 0 && e.FFTShare < 1) {
		t.Errorf("headroom %g, FFT share %g", e.Headroom, e.FFTShare)
	}
	assertRel(t, "kappa", e.Kappa, fhe.Kappa(1e-4), 0)
}

func TestParamsJSON(t *testing.T) {
	p := concrete4Bit.MustCompile()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"glwe_dimension":2,"log2_polynomial_size":10,"lwe_dimension":801,"br_level":1,"br_log2_base":23,"ks_level":3,"ks_log2_base":4}`
	if string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
	var back fhe.Params
	if err := json.Unmarshal(b, &back); err != nil || back != p {
		t.Errorf("round trip: %v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"glwe_dimension":2,"log2_polynomial_size":10,"lwe_dimension":801,"br_level":9,"br_log2_base":23,"ks_level":3,"ks_log2_base":4}`), &back); !errors.Is(err, fhe.ErrInvalidParams) {
		t.Errorf("br 9×23 accepted: %v", err)
	}
}
