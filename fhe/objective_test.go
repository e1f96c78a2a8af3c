package fhe_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/fhe/calibration"
)

// profileTimer prices sets with a calibration profile as tuner.ProfileTiming does (fhe's
// tests may not import tuner): single-core KS+PBS and bootstrap from the fitted model,
// keyswitches between keys from the profile, multiply-adds of k·N + 1 coefficients at
// its measured ns per coefficient.
type profileTimer struct{ pr calibration.Profile }

func (t profileTimer) PBSMillis(p fhe.Params) float64       { return t.pr.PredictMS(p) }
func (t profileTimer) BootstrapMillis(p fhe.Params) float64 { return t.pr.BootstrapMS(p) }
func (t profileTimer) KeySwitchMillis(from, to fhe.Params, level int) float64 {
	return t.pr.KeySwitchBetweenMS(from, to, level)
}
func (t profileTimer) LevelledMillis(p fhe.Params, macs int64) float64 {
	return float64(macs) * float64(p.GLWEDimension()+1) * t.pr.DotNSPerCoef / 1e6
}

var _ fhe.Timer = profileTimer{}

// defaultTimer returns the built-in profile's timer.
func defaultTimer(t testing.TB) profileTimer {
	t.Helper()
	pr, err := calibration.Default()
	if err != nil {
		t.Fatal(err)
	}
	return profileTimer{pr}
}

// sharedMS is one optimizer with the built-in profile's timer for the tests that only
// read answers (its memo and tables are built once).
var sharedMS struct {
	once sync.Once
	o    *fhe.Optimizer
	err  error
}

func msOptimizer(t testing.TB) *fhe.Optimizer {
	t.Helper()
	sharedMS.once.Do(func() {
		pr, err := calibration.Default()
		if err != nil {
			sharedMS.err = err
			return
		}
		sharedMS.o, sharedMS.err = fhe.NewOptimizer(fhe.WithTimer(profileTimer{pr}))
	})
	if sharedMS.err != nil {
		t.Fatal(sharedMS.err)
	}
	return sharedMS.o
}

// tluMS is a set's milliseconds for one TLU straight from the timer: the dot product of
// sumSize multiply-adds, then PBSMillis.
func tluMS(tm fhe.Timer, p fhe.Params, sumSize int) float64 {
	return tm.LevelledMillis(p, int64(sumSize)) + tm.PBSMillis(p)
}

// TestCostMSPassesNoiseModel runs every cell of Concrete's v0 tables for precision 1..8
// (log2 norm2 0..30) at three p_errors with both costs. Every set chosen by
// milliseconds must pass the noise model's check for the same precision, norm2, p_error
// and security (checkSolution: both keys secure, variance within the bound, actual
// p_error within the target), run on tfhe-go (n ≤ k·N), and be predicted no slower than
// Concrete's choice; a cell has a set by milliseconds wherever Concrete's choice has
// n ≤ k·N.
func TestCostMSPassesNoiseModel(t *testing.T) {
	o := msOptimizer(t)
	tm := defaultTimer(t)
	solved, faster := 0, 0
	for _, pe := range []float64{fhe.ReferencePError, fhe.DefaultPError, 1e-3} {
		for prec := 1; prec <= 8; prec++ {
			for l := 0; l <= 30; l++ {
				q := fhe.Query{Precision: prec, Log2Norm2: float64(l), PError: pe, Security: 128, SumSize: fhe.DefaultSumSize}
				cq, mq := q, q
				cq.Cost, mq.Cost = fhe.CostComplexity, fhe.CostMS
				c, cerr := o.Optimize(cq)
				m, merr := o.Optimize(mq)
				if errors.Is(merr, fhe.ErrNoSolution) {
					if cerr == nil && c.Params.LWEDimension() <= c.Params.GLWEDimension() {
						t.Errorf("%v: no set by ms, Concrete's %v runs on tfhe-go", q, c.Params)
					}
					continue
				}
				if merr != nil || cerr != nil {
					t.Fatalf("%v: %v, %v", q, merr, cerr)
				}
				solved++
				checkSolution(t, m, mq, fhe.DefaultSpace())
				p := m.Params
				if p.LWEDimension() > p.GLWEDimension() {
					t.Errorf("%v: ms picks %v with n > k·N", q, p)
				}
				if m.Query.Cost != fhe.CostMS || c.Query.Cost != fhe.CostComplexity {
					t.Errorf("%v: costs %q and %q", q, m.Query.Cost, c.Query.Cost)
				}
				assertRel(t, fmt.Sprintf("%v: ms of %v", q, p), m.MS, tluMS(tm, p, q.SumSize), 1e-9)
				if m.MS > c.MS {
					t.Errorf("%v: ms picks %v at %.4g ms, slower than Concrete's %v at %.4g ms", q, p, m.MS, c.Params, c.MS)
				}
				if m.MS < c.MS {
					faster++
				}
			}
		}
	}
	if solved < 500 || faster == 0 {
		t.Errorf("%d cells solved by ms, %d faster than Concrete's choice", solved, faster)
	}
}

// TestCostMSMedianSpeedUp measures the predicted speed-up of the milliseconds objective
// over Concrete's choice on Concrete's v0 cells (precision 1..8, p_error 6.334e-5, 128
// bits, sum size 4096) with the built-in profile: no cell may be slower, and the
// median is logged (scripts/cost-table.sh puts the table in the README).
func TestCostMSMedianSpeedUp(t *testing.T) {
	o := msOptimizer(t)
	var speedUps []float64
	for prec := 1; prec <= 8; prec++ {
		for l := 0; l <= 30; l++ {
			q := fhe.Query{Precision: prec, Log2Norm2: float64(l), PError: fhe.ReferencePError, Cost: fhe.CostComplexity}
			c, err := o.Optimize(q)
			if errors.Is(err, fhe.ErrNoSolution) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			q.Cost = fhe.CostMS
			m, err := o.Optimize(q)
			if err != nil {
				t.Fatalf("%v: %v", q, err)
			}
			if m.MS > c.MS {
				t.Errorf("%v: ms %.4g slower than complexity's %.4g", q, m.MS, c.MS)
			}
			speedUps = append(speedUps, c.MS/m.MS)
		}
	}
	slices.Sort(speedUps)
	t.Logf("%d cells: median speed-up ×%.3f, largest ×%.3f", len(speedUps), calibration.Median(speedUps), speedUps[len(speedUps)-1])
	if len(speedUps) < 150 || !(calibration.Median(speedUps) >= 1) {
		t.Errorf("%d cells, median %g", len(speedUps), calibration.Median(speedUps))
	}
}

// TestCostMSBruteForce compares the milliseconds search with an exhaustive one over
// reduced spaces (every decomposition, every n of a window, some windows across n = k·N):
// the same least milliseconds, and a set that passes the constraints.
func TestCostMSBruteForce(t *testing.T) {
	tm := defaultTimer(t)
	for _, c := range []struct {
		name    string
		space   fhe.Space
		queries []fhe.Query
	}{
		{"k=1..2/logN=10..11/n=780..795", fhe.Space{MinGLWERank: 1, MaxGLWERank: 2, MinLogPolyDegree: 10, MaxLogPolyDegree: 11, MinLWEDimension: 780, MaxLWEDimension: 795},
			[]fhe.Query{
				{Precision: 4, Log2Norm2: 0, PError: fhe.ReferencePError},
				{Precision: 3, Log2Norm2: 9, PError: 1e-3},
				{Precision: 2, Log2Norm2: 20, PError: 1e-9, SumSize: 10},
				{Precision: 5, Log2Norm2: 2.5, PError: fhe.ReferencePError, SumSize: 100000},
			}},
		{"k=1..2/logN=9..10/n=1016..1031 (across k·N = 1024)", fhe.Space{MinGLWERank: 1, MaxGLWERank: 2, MinLogPolyDegree: 9, MaxLogPolyDegree: 10, MinLWEDimension: 1016, MaxLWEDimension: 1031},
			[]fhe.Query{
				{Precision: 1, Log2Norm2: 0, PError: fhe.ReferencePError},
				{Precision: 2, Log2Norm2: 4, PError: 1e-3},
				{Precision: 3, Log2Norm2: 0, PError: 0.01, SumSize: 1},
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := newOptimizer(t, fhe.WithSpace(c.space), fhe.WithTimer(tm), fhe.WithCost(fhe.CostMS))
			for _, q := range c.queries {
				if q.SumSize == 0 {
					q.SumSize = fhe.DefaultSumSize
				}
				want, ok := bruteForceMS(t, tm, c.space, q)
				s, err := o.Optimize(q)
				if !ok {
					if !errors.Is(err, fhe.ErrNoSolution) {
						t.Errorf("%v: brute force finds no set, optimizer: %v, %v", q, s.Params, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%v: brute force finds %v, optimizer: %v", q, want.lit, err)
				}
				q.Security, q.Cost = 128, fhe.CostMS
				checkSolution(t, s, q, c.space)
				if math.Abs(s.MS-want.cost) > 1e-12*want.cost {
					t.Errorf("%v: optimizer %v at %.9g ms, brute force %v at %.9g ms", q, s.Params, s.MS, want.lit, want.cost)
				}
			}
		})
	}
}

// bruteForceMS enumerates every set of the space with n ≤ k·N and returns the one of
// least milliseconds that meets q, pricing each bootstrap and keyswitch by the timer.
func bruteForceMS(t *testing.T, tm fhe.Timer, space fhe.Space, q fhe.Query) (best bruteCand, ok bool) {
	t.Helper()
	bound := fhe.VarianceBound(q.Precision, q.PError)
	best.cost = math.Inf(1)
	for k := space.MinGLWERank; k <= space.MaxGLWERank; k++ {
		for logN := space.MinLogPolyDegree; logN <= space.MaxLogPolyDegree; logN++ {
			if _, err := fhe.MinVariance(k<<logN, 128); err != nil {
				continue
			}
			for n := space.MinLWEDimension; n <= min(space.MaxLWEDimension, k<<logN); n++ {
				type dec struct {
					z     fhe.Noise
					price float64
					l     [2]int
				}
				var brs, kss []dec
				for level := 1; level <= 64; level++ {
					for b := 1; level*b <= 64; b++ {
						p := fhe.ParamsLiteral{GLWERank: k, LogPolyDegree: logN, LWEDimension: n,
							BRLevel: level, BRLogBase: b, KSLevel: level, KSLogBase: b}.MustCompile()
						z, err := p.Noise(128)
						if err != nil {
							t.Fatal(err)
						}
						boot := tm.BootstrapMillis(p)
						brs = append(brs, dec{z: z, price: boot, l: [2]int{level, b}})
						kss = append(kss, dec{z: z, price: tm.PBSMillis(p) - boot, l: [2]int{level, b}})
					}
				}
				lit := fhe.ParamsLiteral{GLWERank: k, LogPolyDegree: logN, LWEDimension: n, BRLevel: 1, BRLogBase: 1, KSLevel: 1, KSLogBase: 1}
				lev := tm.LevelledMillis(lit.MustCompile(), int64(q.SumSize))
				for _, br := range brs {
					for _, ks := range kss {
						z := br.z
						z.KeySwitch, z.KeySwitchPerCoefficient = ks.z.KeySwitch, ks.z.KeySwitchPerCoefficient
						if z.AtDecoding(q.Log2Norm2) > bound {
							continue
						}
						if c := lev + br.price + ks.price; c < best.cost {
							l := lit
							l.BRLevel, l.BRLogBase, l.KSLevel, l.KSLogBase = br.l[0], br.l[1], ks.l[0], ks.l[1]
							best, ok = bruteCand{cost: c, lit: l}, true
						}
					}
				}
			}
		}
	}
	return best, ok
}

// TestCostMSGraphPassesNoiseModel solves random graphs (one to four partitions, p_error
// or global_p_error) by milliseconds: every answer passes checkGraph (each decoding's
// variance recomputed from the sets within its bound, the global error within its
// target, the complexity recomputed), every partition has n ≤ k·N, the reported
// milliseconds match the timer's own figures, and no answer is predicted slower than the
// answer by complexity where that one runs on tfhe-go.
func TestCostMSGraphPassesNoiseModel(t *testing.T) {
	o := msOptimizer(t)
	tm := defaultTimer(t)
	r := rand.New(rand.NewPCG(7, 11))
	solved := 0
	for i := range 24 {
		g := randomGraph(r, 1+i%4, i%3 == 0)
		g.Cost = fhe.CostMS
		m, err := o.Graph(g)
		if errors.Is(err, fhe.ErrNoSolution) {
			continue
		}
		if err != nil {
			t.Fatalf("graph %d: %v", i, err)
		}
		solved++
		checkGraph(t, g, m)
		for p, par := range m.Partitions {
			if par.LWEDimension() > par.GLWEDimension() {
				t.Errorf("graph %d: partition %d: %v has n > k·N", i, p, par)
			}
		}
		assertRel(t, fmt.Sprintf("graph %d ms", i), m.MS, graphMS(t, tm, g, m), 1e-9)
		if m.Cost != fhe.CostMS {
			t.Errorf("graph %d: cost %q", i, m.Cost)
		}
		g.Cost = fhe.CostComplexity
		c, err := o.Graph(g)
		if err != nil {
			t.Fatalf("graph %d by complexity: %v", i, err)
		}
		runs := true // on tfhe-go: Concrete's choice may have n > k·N, which ms leaves out
		for _, par := range c.Partitions {
			runs = runs && par.LWEDimension() <= par.GLWEDimension()
		}
		if runs && m.MS > c.MS*(1+1e-12) {
			t.Errorf("graph %d: %.6g ms by ms, %.6g ms by complexity", i, m.MS, c.MS)
		}
		if m.Complexity < c.Complexity && g.Partitions == 1 {
			t.Errorf("graph %d: ms beats complexity at its own cost: %g < %g", i, m.Complexity, c.Complexity)
		}
	}
	if solved < 18 {
		t.Errorf("only %d of 24 graphs solved", solved)
	}
}

// graphMS recomputes the milliseconds of one inference of g with the sets of s from the
// timer's own figures: bootstraps, keyswitches (PBSMillis − BootstrapMillis within a
// partition, KeySwitchMillis between two) and multiply-adds.
func graphMS(t *testing.T, tm fhe.Timer, g fhe.Graph, s fhe.GraphSolution) float64 {
	t.Helper()
	ms := 0.0
	for p, par := range s.Partitions {
		ms += float64(g.PBS[p]) * tm.BootstrapMillis(par)
	}
	for sw, count := range g.KS {
		d := s.Switches[sw]
		from, to := s.Partitions[sw.From], s.Partitions[sw.To]
		if sw.From == sw.To {
			lit := from.Literal()
			lit.KSLevel, lit.KSLogBase = d.Level, d.LogBase
			p := lit.MustCompile()
			ms += float64(count) * (tm.PBSMillis(p) - tm.BootstrapMillis(p))
		} else {
			ms += float64(count) * tm.KeySwitchMillis(from, to, d.Level)
		}
	}
	for p, par := range s.Partitions {
		ms += g.Levelled[p] * tm.LevelledMillis(par, 1)
	}
	return ms
}

// TestCostMemo checks that the memo keeps the costs apart: the same query by complexity
// before and after one by milliseconds gives Concrete's set, and a graph likewise.
func TestCostMemo(t *testing.T) {
	o := newOptimizer(t, fhe.WithTimer(defaultTimer(t)))
	if o.Cost() != fhe.CostComplexity {
		t.Fatalf("default cost %q", o.Cost())
	}
	q := fhe.Query{Precision: 1, Log2Norm2: 10, PError: fhe.ReferencePError}
	before, err := o.Optimize(q)
	if err != nil {
		t.Fatal(err)
	}
	q.Cost = fhe.CostMS
	m, err := o.Optimize(q)
	if err != nil {
		t.Fatal(err)
	}
	q.Cost = ""
	after, err := o.Optimize(q)
	if err != nil {
		t.Fatal(err)
	}
	if m.Params == before.Params || after.Params != before.Params || after.Query.Cost != fhe.CostComplexity {
		t.Errorf("complexity %v then %v, ms %v", before.Params, after.Params, m.Params)
	}
	g := chain2(1e-5, 0)
	gc, err := o.Graph(g)
	if err != nil {
		t.Fatal(err)
	}
	g.Cost = fhe.CostMS
	gm, err := o.Graph(g)
	if err != nil {
		t.Fatal(err)
	}
	g.Cost = fhe.CostComplexity
	gc2, err := o.Graph(g)
	if err != nil {
		t.Fatal(err)
	}
	if gc.Cost != fhe.CostComplexity || gm.Cost != fhe.CostMS || gc2.Complexity != gc.Complexity || !slices.Equal(gc.Partitions, gc2.Partitions) {
		t.Errorf("complexity %+v, ms %+v, complexity again %+v", gc, gm, gc2)
	}
	if !(gm.MS < gc.MS) {
		t.Errorf("chain2: %g ms by ms, %g ms by complexity", gm.MS, gc.MS)
	}
	// The default cost applies to queries that name none, in the memo too.
	om := newOptimizer(t, fhe.WithTimer(defaultTimer(t)), fhe.WithCost(fhe.CostMS))
	q.Cost = ""
	d, err := om.Optimize(q)
	if err != nil {
		t.Fatal(err)
	}
	if d.Query.Cost != fhe.CostMS || d.Params != m.Params {
		t.Errorf("default ms: %v (%q), want %v", d.Params, d.Query.Cost, m.Params)
	}
}

// TestCostInvalid checks the errors of costs: unknown names, and milliseconds without a
// timer.
func TestCostInvalid(t *testing.T) {
	if _, err := fhe.NewOptimizer(fhe.WithCost("fast")); !errors.Is(err, fhe.ErrInvalidQuery) {
		t.Errorf("WithCost(fast): %v", err)
	}
	if _, err := fhe.NewOptimizer(fhe.WithCost(fhe.CostMS)); !errors.Is(err, fhe.ErrInvalidQuery) {
		t.Errorf("WithCost(ms) without a timer: %v", err)
	}
	if _, err := fhe.NewOptimizer(fhe.WithTimer(nil)); !errors.Is(err, fhe.ErrInvalidQuery) {
		t.Errorf("WithTimer(nil): %v", err)
	}
	o := newOptimizer(t)
	q := fhe.Query{Precision: 4, PError: 1e-3, Cost: fhe.CostMS}
	if _, err := o.Optimize(q); !errors.Is(err, fhe.ErrInvalidQuery) {
		t.Errorf("ms without a timer: %v", err)
	}
	q.Cost = "seconds"
	if _, err := o.Optimize(q); !errors.Is(err, fhe.ErrInvalidQuery) {
		t.Errorf("cost seconds: %v", err)
	}
	g := chain2(1e-5, 0)
	g.Cost = "seconds"
	if _, err := o.Graph(g); !errors.Is(err, fhe.ErrInvalidQuery) {
		t.Errorf("graph cost seconds: %v", err)
	}
	for _, s := range []string{"MS", "ms", "Complexity"} {
		if _, err := fhe.ParseCostKind(s); err != nil {
			t.Errorf("ParseCostKind(%q): %v", s, err)
		}
	}
	// A timer that prices a set below zero is refused, not searched.
	bad := newOptimizer(t, fhe.WithTimer(negativeTimer{defaultTimer(t)}))
	if _, err := bad.Optimize(fhe.Query{Precision: 4, PError: 1e-3, Cost: fhe.CostMS}); !errors.Is(err, fhe.ErrInvalidQuery) {
		t.Errorf("negative prices: %v", err)
	}
}

// negativeTimer prices every bootstrap below zero.
type negativeTimer struct{ profileTimer }

func (negativeTimer) BootstrapMillis(fhe.Params) float64 { return -1 }

// TestTimerContract checks that the built-in profile's timer keeps the contract the
// milliseconds search relies on (fhe.CheckTimer), and that a timer breaking it is
// caught.
func TestTimerContract(t *testing.T) {
	if err := fhe.CheckTimer(defaultTimer(t), 128); err != nil {
		t.Fatal(err)
	}
	if err := fhe.CheckTimer(fallingTimer{defaultTimer(t)}, 128); !errors.Is(err, fhe.ErrInvalidQuery) {
		t.Errorf("a bootstrap cheaper at a higher level: %v", err)
	}
}

// fallingTimer prices bootstraps cheaper as the level grows.
type fallingTimer struct{ profileTimer }

func (t fallingTimer) BootstrapMillis(p fhe.Params) float64 {
	return t.profileTimer.BootstrapMillis(p) / float64(p.BRLevel()*p.BRLevel())
}

func (t fallingTimer) PBSMillis(p fhe.Params) float64 {
	return t.BootstrapMillis(p) + t.profileTimer.PBSMillis(p) - t.profileTimer.BootstrapMillis(p)
}

// BenchmarkOptimizeMS measures the milliseconds objective on Concrete's v0 cells
// (precision 1..8, log2 norm2 0..30, p_error 6.334e-5) with the built-in profile: a new
// optimizer answering the whole table, its price tables included, and the median and
// largest predicted speed-up over Concrete's choice as metrics.
func BenchmarkOptimizeMS(b *testing.B) {
	tm := defaultTimer(b)
	var speedUps []float64
	for b.Loop() {
		o, err := fhe.NewOptimizer(fhe.WithTimer(tm))
		if err != nil {
			b.Fatal(err)
		}
		speedUps = speedUps[:0]
		for bits := 1; bits <= 8; bits++ {
			for l := 0; l <= 30; l++ {
				q := fhe.Query{Precision: bits, Log2Norm2: float64(l), PError: fhe.ReferencePError, Cost: fhe.CostMS}
				m, err := o.Optimize(q)
				if err != nil {
					continue
				}
				q.Cost = fhe.CostComplexity
				c, err := o.Optimize(q)
				if err != nil {
					b.Fatal(err)
				}
				if m.MS > c.MS {
					b.Fatalf("%v: ms slower than complexity", q)
				}
				speedUps = append(speedUps, c.MS/m.MS)
			}
		}
	}
	slices.Sort(speedUps)
	b.ReportMetric(calibration.Median(speedUps), "median-speedup")
	b.ReportMetric(speedUps[len(speedUps)-1], "max-speedup")
}

// TestCostMSConcurrent: optimizers share their price tables between goroutines; answers
// by milliseconds (queries and graphs, mixed with complexity) are the same as one
// goroutine's.
func TestCostMSConcurrent(t *testing.T) {
	tm := defaultTimer(t)
	seq := newOptimizer(t, fhe.WithTimer(tm), fhe.WithCost(fhe.CostMS))
	shared := newOptimizer(t, fhe.WithTimer(tm), fhe.WithCost(fhe.CostMS))
	type job struct {
		q fhe.Query
		g fhe.Graph
	}
	var jobs []job
	for prec := 1; prec <= 6; prec++ {
		for l := 0; l <= 12; l += 6 {
			jobs = append(jobs, job{q: fhe.Query{Precision: prec, Log2Norm2: float64(l), PError: 1e-6}})
		}
	}
	jobs = append(jobs, job{g: chain2(1e-5, 0)}, job{g: chain3(1e-6, 0)}, job{g: chain2(0, 0.01)})
	type answer struct {
		set fhe.ParamsLiteral
		ms  float64
	}
	run := func(o *fhe.Optimizer, j job) (answer, error) {
		if j.g.Partitions == 0 {
			s, err := o.Optimize(j.q)
			return answer{s.Params.Literal(), s.MS}, err
		}
		s, err := o.Graph(j.g)
		if err != nil {
			return answer{}, err
		}
		return answer{s.Partitions[len(s.Partitions)-1].Literal(), s.MS}, nil
	}
	want := make([]answer, len(jobs))
	for i, j := range jobs {
		a, err := run(seq, j)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = a
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(jobs))
	for w := range 4 {
		wg.Go(func() {
			for i := range jobs {
				k := (i + w*5) % len(jobs)
				if a, err := run(shared, jobs[k]); err != nil || a != want[k] {
					errs <- fmt.Errorf("worker %d, job %d: %+v, %v, want %+v", w, k, a, err, want[k])
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
