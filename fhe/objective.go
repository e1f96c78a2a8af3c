package fhe

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
)

// What the optimizer minimizes. Concrete's optimizer minimizes its complexity model, a
// count of elementary operations (cost.go, after compilers/concrete-optimizer/
// concrete-optimizer/src/computing_cost/cpu.rs and operators/{cmux,keyswitch_lwe}.rs),
// which misses real times by up to about 30% and ranks some sets in the wrong order.
// Concrete already prices the same operations through a trait with a CPU and a GPU
// implementation (computing_cost/complexity_model.rs: bootstrap, keyswitch, levelled
// work); a [Timer] is that trait in milliseconds, fitted to this machine, and the
// optimizer minimizes it instead with [CostMS]. Only the objective changes: the noise
// and security constraints are the same, so a set chosen by milliseconds always passes
// the same noise check as one chosen by complexity.

// CostKind names the objective the optimizer minimizes.
type CostKind string

const (
	// CostComplexity is Concrete's complexity model ([Params.Complexity],
	// [GraphSolution.Complexity]): Concrete's choice, exactly.
	CostComplexity CostKind = "complexity"
	// CostMS is calibrated milliseconds on one core, as the optimizer's [Timer] predicts
	// them: a dot product's multiply-adds, keyswitches and bootstraps, each priced for
	// the set that runs it. It needs [WithTimer].
	CostMS CostKind = "ms"
)

// CostKinds returns the cost kinds a query may name.
func CostKinds() []CostKind { return []CostKind{CostMS, CostComplexity} }

// ParseCostKind returns the cost kind s names: "ms" or "complexity", in any case. Errors
// wrap [ErrInvalidQuery] and quote s.
func ParseCostKind(s string) (CostKind, error) {
	switch c := CostKind(strings.ToLower(s)); c {
	case CostMS, CostComplexity:
		return c, nil
	}
	return "", fmt.Errorf("%w: cost %q: want ms or complexity", ErrInvalidQuery, s)
}

// Timer prices parameter sets in milliseconds on one core: what [CostMS] minimizes.
// fhe/circuit's Timing has these methods, so a calibration profile's timing serves as
// one. Implementations must be safe for concurrent use.
//
// The optimizer's search is exact for the milliseconds objective when the timer keeps
// to this contract ([CheckTimer] checks a sample of it):
//   - every price of a set with n ≤ k·N is finite and ≥ 0 (the optimizer reports a
//     query as invalid otherwise);
//   - the bootstrap price depends on k, N, n and the blind-rotation level only (not on
//     the log2 base, nor on the keyswitch), and does not fall when the level grows; the
//     keyswitch part of PBSMillis (PBSMillis − BootstrapMillis) depends on k, N, n and
//     the keyswitch level only, and does not fall when the level grows (the optimizer
//     keeps, for each level, only the base of least noise);
//   - KeySwitchMillis depends on from's k and N, to's n and the level only, and does
//     not fall when the level grows;
//   - LevelledMillis is linear in macs and depends on k and N only.
//
// Nothing is assumed of how prices change with n: the search bounds them with minima
// over every larger n.
type Timer interface {
	// PBSMillis returns the milliseconds of one keyswitch + bootstrap with p.
	PBSMillis(p Params) float64
	// BootstrapMillis returns the milliseconds of the bootstrap alone with p.
	BootstrapMillis(p Params) float64
	// KeySwitchMillis returns the milliseconds of one keyswitch from from's big key
	// (k·N) to to's small key (n) with a decomposition of level levels.
	KeySwitchMillis(from, to Params, level int) float64
	// LevelledMillis returns the milliseconds of macs multiply-adds of LWE ciphertexts
	// of p's big key with clear integers.
	LevelledMillis(p Params, macs int64) float64
}

// msTables holds a Timer's prices of the sets of one security level's decomposition
// tables that the search bounds with: per (k, N) and n, the bootstrap with its first
// blind-rotation decomposition and the keyswitch with its first (level 1) keyswitch
// decomposition, and their minima over every larger n. They are built once per
// optimizer and security level and read concurrently; the keyswitches between
// partitions are tabulated per source (k, N) on first use.
type msTables struct {
	timer Timer
	t     *decompositionTables
	glwe  []msGLWE // parallel to t.glwe
	// boots, kss and betweens are the prices the searches ask for beyond the first
	// decompositions, per (k, N) of t.glwe (the source's for betweens).
	boots, kss, betweens []priceRows
	// from holds, per source (k, N), the least keyswitch prices between keys.
	from []msBetween

	mu  sync.Mutex // protects bad
	bad error      // the first price the Timer got wrong
}

// msGLWE is the prices of one (k, N).
type msGLWE struct {
	// nMax is the largest n priced: min(space's largest n, k·N). The calibrated
	// library, tfhe-go, runs the keyswitch first and keeps the first n coefficients of
	// the big key as the small key, so it cannot run a set with n > k·N and a Timer has
	// no time for one; the milliseconds objective leaves such sets out.
	nMax int
	// lev is the price of one levelled multiply-add on the big key.
	lev float64
	// boot0 and ks0, per n − MinLWEDimension, are the bootstrap with br[0] and the
	// keyswitch with t.ks[n][0] (+Inf where n is insecure or beyond nMax); bootLow, ksLow
	// and atomLow the minima over every n' ≥ n of boot0, ks0 and boot0 + ks0.
	boot0, ks0, bootLow, ksLow, atomLow []float64
}

// msBetween is the minima over every n' ≥ n of the keyswitch from one (k, N) to n' at
// level 1, built on first use.
type msBetween struct {
	once sync.Once
	low  []float64
}

// badPrice returns an error for a price the Timer got wrong, nil for a good one.
func badPrice(what string, p ParamsLiteral, v float64) error {
	if v >= 0 && !math.IsInf(v, 1) {
		return nil
	}
	return fmt.Errorf("%w: timer prices the %s of %v at %v ms (want a finite number ≥ 0)", ErrInvalidQuery, what, p, v)
}

// buildMSTables prices the sets of t with timer.
func buildMSTables(timer Timer, t *decompositionTables) (*msTables, error) {
	s := t.space
	size := s.MaxLWEDimension - s.MinLWEDimension + 1
	m := &msTables{timer: timer, t: t, glwe: make([]msGLWE, len(t.glwe)), from: make([]msBetween, len(t.glwe)),
		boots: make([]priceRows, len(t.glwe)), kss: make([]priceRows, len(t.glwe)), betweens: make([]priceRows, len(t.glwe))}
	for gi := range t.glwe {
		m.boots[gi], m.kss[gi], m.betweens[gi] = make(priceRows, size), make(priceRows, size), make(priceRows, size)
	}
	for gi := range t.glwe {
		g := &t.glwe[gi]
		mg := &m.glwe[gi]
		mg.nMax = min(s.MaxLWEDimension, g.kN)
		mg.boot0, mg.ks0 = make([]float64, size), make([]float64, size)
		mg.bootLow, mg.ksLow, mg.atomLow = make([]float64, size), make([]float64, size), make([]float64, size)
		levSet := false
		for j := range size {
			n := s.MinLWEDimension + j
			mg.boot0[j], mg.ks0[j] = math.Inf(1), math.Inf(1)
			ksl := t.ks[j]
			if ksl == nil || n > mg.nMax {
				continue
			}
			lit := t.literal(g, n, g.br[0], ksl[0])
			p := Params{lit: lit}
			boot, pbs := timer.BootstrapMillis(p), timer.PBSMillis(p)
			ks := keySwitchPart(pbs, boot)
			if err := badPrice("bootstrap", lit, boot); err != nil {
				return nil, err
			}
			if err := badPrice("keyswitch (PBSMillis − BootstrapMillis)", lit, ks); err != nil {
				return nil, err
			}
			mg.boot0[j], mg.ks0[j] = boot, ks
			if !levSet {
				mg.lev = timer.LevelledMillis(p, 1)
				if err := badPrice("levelled multiply-add", lit, mg.lev); err != nil {
					return nil, err
				}
				levSet = true
			}
		}
		if !levSet {
			mg.lev = math.Inf(1) // no runnable n: the (k, N) is never searched
		}
		lowB, lowK, lowA := math.Inf(1), math.Inf(1), math.Inf(1)
		for j := size - 1; j >= 0; j-- {
			lowB, lowK, lowA = min(lowB, mg.boot0[j]), min(lowK, mg.ks0[j]), min(lowA, mg.ks0[j]+mg.boot0[j])
			mg.bootLow[j], mg.ksLow[j], mg.atomLow[j] = lowB, lowK, lowA
		}
	}
	return m, nil
}

// betweenLow returns, per n − MinLWEDimension, the least price of a keyswitch from the
// big key of (k, N) t.glwe[gi] to the small key of any n' ≥ n at level 1 (+Inf where a
// price is wrong, which check records).
func (m *msTables) betweenLow(gi int) []float64 {
	b := &m.from[gi]
	b.once.Do(func() {
		t := m.t
		s := t.space
		g := &t.glwe[gi]
		size := s.MaxLWEDimension - s.MinLWEDimension + 1
		b.low = make([]float64, size)
		low := math.Inf(1)
		for j := size - 1; j >= 0; j-- {
			if ksl := t.ks[j]; ksl != nil {
				src, dst := m.betweenSets(g, s.MinLWEDimension+j)
				low = min(low, m.check("keyswitch between keys", dst.lit, m.timer.KeySwitchMillis(src, dst, ksl[0].level)))
			}
			b.low[j] = low
		}
	})
	return b.low
}

// literal returns the set of (k, N) g with n and the given decompositions.
func (t *decompositionTables) literal(g *glweTable, n int, br, ks decomposition) ParamsLiteral {
	return ParamsLiteral{GLWERank: g.k, LogPolyDegree: g.logN, LWEDimension: n,
		BRLevel: br.level, BRLogBase: br.logBase, KSLevel: ks.level, KSLogBase: ks.logBase}
}

// priceRows holds one kind of price of one (k, N): per n − MinLWEDimension, the prices
// of every decomposition at n (blind-rotation decompositions for bootstraps, the
// keyswitch decompositions of n for keyswitches), computed on first use. Searches share
// them without a lock: a row computed twice at once is the same row, and either copy
// may be kept.
type priceRows []atomic.Pointer[[]float64]

// row returns row n of rows, computing it with price (one call per decomposition) on
// first use.
func (m *msTables) row(rows priceRows, n, size int, price func(ix int) float64) []float64 {
	r := &rows[n-m.t.space.MinLWEDimension]
	if p := r.Load(); p != nil {
		return *p
	}
	vals := make([]float64, size)
	for i := range vals {
		vals[i] = price(i)
	}
	r.Store(&vals)
	return vals
}

// check returns v, or +Inf after recording an error (the first one is kept) if the
// Timer got it wrong.
func (m *msTables) check(what string, lit ParamsLiteral, v float64) float64 {
	err := badPrice(what, lit, v)
	if err == nil {
		return v
	}
	m.mu.Lock()
	if m.bad == nil {
		m.bad = err
	}
	m.mu.Unlock()
	return math.Inf(1)
}

// failed returns the first price the Timer got wrong, nil if none.
func (m *msTables) failed() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bad
}

// pricing prices the operations of one search: Concrete's complexity (ms nil), or a
// Timer's milliseconds. With ms the prices of a set follow the Timer's contract: a
// bootstrap is priced with the set's own blind-rotation decomposition and the first
// keyswitch decomposition of its n, an atomic keyswitch with the set's own keyswitch
// decomposition and the first blind-rotation decomposition of its (k, N), a keyswitch
// between keys from a canonical set of the source (k, N) to one of the destination n,
// so that every price of a set is one number wherever the search meets it. Searches
// (direct false) read prices through the shared tables, which check them; reports
// (direct true) ask the Timer, for any set, and take what it says.
type pricing struct {
	t  *decompositionTables
	ms *msTables
	// direct asks the Timer for every price, unchecked (reports, not searches).
	direct bool
}

// failed returns the first price the Timer got wrong during the searches, nil if none
// (always nil for complexity).
func (pr *pricing) failed() error {
	if pr.ms == nil {
		return nil
	}
	return pr.ms.failed()
}

// lev returns the price of one levelled multiply-add on the big key of g: k·N, or its
// milliseconds.
func (pr *pricing) lev(g *glweTable) float64 {
	if pr.ms == nil {
		return float64(g.kN)
	}
	if v := pr.ms.glwe[g.idx].lev; !pr.direct || !math.IsInf(v, 1) {
		return v
	}
	// A report on a (k, N) the search never visits (no n ≤ k·N in the space): the
	// Timer's own figure for a set of it.
	n := pr.t.space.MinLWEDimension
	return pr.ms.timer.LevelledMillis(Params{lit: pr.t.literal(g, n, g.br[0], pr.firstKS(n))}, 1)
}

// nMax returns the largest n the search visits with g.
func (pr *pricing) nMax(g *glweTable) int {
	if pr.ms == nil {
		return pr.t.space.MaxLWEDimension
	}
	return pr.ms.glwe[g.idx].nMax
}

// boot returns the price of one bootstrap of g with n and blind-rotation decomposition
// g.br[i]: n·CMux, or its milliseconds.
func (pr *pricing) boot(g *glweTable, n, i int) float64 {
	if pr.ms == nil {
		return float64(n) * g.brCost[i]
	}
	lit := func(i int) ParamsLiteral { return pr.t.literal(g, n, g.br[i], pr.firstKS(n)) }
	if pr.direct {
		return pr.ms.timer.BootstrapMillis(Params{lit: lit(i)})
	}
	if i == 0 {
		return pr.ms.glwe[g.idx].boot0[n-pr.t.space.MinLWEDimension]
	}
	return pr.ms.row(pr.ms.boots[g.idx], n, len(g.br), func(i int) float64 {
		l := lit(i)
		return pr.ms.check("bootstrap", l, pr.ms.timer.BootstrapMillis(Params{lit: l}))
	})[i]
}

// lowCost returns a lower bound of levelled·lev + wb·bootstrap + wk·keyswitch (the
// atomic pattern's) of every set of g with n' ≥ n, n ≤ nMax(g): the objective {levelled,
// wb, wk} at n with the first decompositions for complexity (which grows with n); with
// milliseconds, m·min(boot + ks) + (wb − m)·min(boot) + (wk − m)·min(ks) over n' ≥ n, m =
// min(wb, wk).
func (pr *pricing) lowCost(g *glweTable, n int, levelled, wb, wk float64) float64 {
	if pr.ms == nil {
		return objective{levelled, wb, wk}.cost(float64(g.kN), float64(n)*g.brCost[0], keySwitchComplexity(g.kN, n, 1))
	}
	return levelled*pr.lev(g) + pr.atomLow(g, n, wb, wk)
}

// atomLow is the bootstrap and keyswitch part of lowCost with milliseconds.
func (pr *pricing) atomLow(g *glweTable, n int, wb, wk float64) float64 {
	mg, j := &pr.ms.glwe[g.idx], n-pr.t.space.MinLWEDimension
	m := min(wb, wk)
	v := 0.0
	if m > 0 {
		v = m * mg.atomLow[j]
	}
	if wb > m {
		v += (wb - m) * mg.bootLow[j]
	}
	if wk > m {
		v += (wk - m) * mg.ksLow[j]
	}
	return v
}

// firstKS returns the first keyswitch decomposition of n (level 1), or 1×1 where n has
// none.
func (pr *pricing) firstKS(n int) decomposition {
	if ksl := pr.t.ks[n-pr.t.space.MinLWEDimension]; ksl != nil {
		return ksl[0]
	}
	return decomposition{level: 1, logBase: 1}
}

// ks returns the price of the atomic keyswitch of g with n and decomposition
// t.ks[n][j]: its complexity, or its milliseconds.
func (pr *pricing) ks(g *glweTable, n, j int) float64 {
	ksl := pr.t.ks[n-pr.t.space.MinLWEDimension]
	if pr.ms == nil {
		return keySwitchComplexity(g.kN, n, ksl[j].level)
	}
	if pr.direct {
		return pr.ksDirect(g, n, ksl[j])
	}
	if j == 0 {
		return pr.ms.glwe[g.idx].ks0[n-pr.t.space.MinLWEDimension]
	}
	return pr.ms.row(pr.ms.kss[g.idx], n, len(ksl), func(j int) float64 {
		lit := pr.t.literal(g, n, g.br[0], ksl[j])
		p := Params{lit: lit}
		return pr.ms.check("keyswitch (PBSMillis − BootstrapMillis)", lit, keySwitchPart(pr.ms.timer.PBSMillis(p), pr.ms.timer.BootstrapMillis(p)))
	})[j]
}

// ksDirect asks the Timer for the atomic keyswitch of g with n and decomposition d.
func (pr *pricing) ksDirect(g *glweTable, n int, d decomposition) float64 {
	p := Params{lit: pr.t.literal(g, n, g.br[0], d)}
	return keySwitchPart(pr.ms.timer.PBSMillis(p), pr.ms.timer.BootstrapMillis(p))
}

// keySwitchPart returns pbs − boot, the keyswitch part of a KS+PBS price, with a
// difference within rounding of zero (a keyswitch the timer prices at nothing) made 0.
func keySwitchPart(pbs, boot float64) float64 {
	d := pbs - boot
	if d < 0 && d >= -1e-9*pbs {
		return 0
	}
	return d
}

// between returns the price of a keyswitch from the big key of from to the small key
// of dimension n with decomposition t.ks[n][j].
func (pr *pricing) between(from *glweTable, n, j int) float64 {
	ksl := pr.t.ks[n-pr.t.space.MinLWEDimension]
	if pr.ms == nil {
		return keySwitchComplexity(from.kN, n, ksl[j].level)
	}
	price := func(j int) float64 {
		src, dst := pr.ms.betweenSets(from, n)
		return pr.ms.timer.KeySwitchMillis(src, dst, ksl[j].level)
	}
	if pr.direct {
		return price(j)
	}
	return pr.ms.row(pr.ms.betweens[from.idx], n, len(ksl), func(j int) float64 {
		_, dst := pr.ms.betweenSets(from, n)
		return pr.ms.check("keyswitch between keys", dst.lit, price(j))
	})[j]
}

// betweenSets returns the canonical sets of a keyswitch from the big key of from to the
// small key of dimension n: the source with its first decompositions and the largest n
// it may have, the destination with from's k, N and first blind-rotation decomposition
// and n's first keyswitch decomposition (a Timer's price depends on the source's k, N
// and the destination's n only).
func (m *msTables) betweenSets(from *glweTable, n int) (src, dst Params) {
	s := m.t.space
	src = Params{lit: m.t.literal(from, min(max(s.MinLWEDimension, m.glwe[from.idx].nMax), s.MaxLWEDimension), from.br[0],
		decomposition{level: 1, logBase: 1})}
	first := decomposition{level: 1, logBase: 1}
	if ksl := m.t.ks[n-s.MinLWEDimension]; ksl != nil {
		first = ksl[0]
	}
	dst = Params{lit: m.t.literal(from, n, from.br[0], first)}
	return src, dst
}

// betweenLow returns a lower bound of the price of a keyswitch from the big key of from
// to the small key of every n' ≥ n.
func (pr *pricing) betweenLow(from *glweTable, n int) float64 {
	if pr.ms == nil {
		return keySwitchComplexity(from.kN, n, 1)
	}
	return pr.ms.betweenLow(from.idx)[n-pr.t.space.MinLWEDimension]
}

// tluCost returns the price of one TLU of set p fed by a dot product of sumSize terms:
// sumSize·lev + keyswitch + bootstrap, as the search prices it; ok is false when p is
// not a set of the tables.
func (pr *pricing) tluCost(p Params, sumSize int) (float64, bool) {
	g, br, ks, ok := pr.t.locate(p.lit)
	if !ok {
		return 0, false
	}
	n := p.lit.LWEDimension
	if pr.ms == nil {
		return float64(sumSize)*pr.lev(g) + (keySwitchComplexity(g.kN, n, p.lit.KSLevel) + float64(n)*g.brCost[br]), true
	}
	lev := pr.lev(g)
	var k float64
	if ks >= 0 {
		k = pr.ks(g, n, ks)
	} else {
		k = pr.ksDirect(g, n, decomposition{level: p.lit.KSLevel, logBase: p.lit.KSLogBase})
	}
	return float64(sumSize)*lev + (k + pr.boot(g, n, br)), true
}

// locate finds the (k, N) of lit in the tables, the index of its blind-rotation
// decomposition in g.br and of its keyswitch decomposition in ks[n] (−1 when absent).
func (t *decompositionTables) locate(lit ParamsLiteral) (g *glweTable, br, ks int, ok bool) {
	minN := t.space.MinLWEDimension
	if lit.LWEDimension < minN || lit.LWEDimension > t.space.MaxLWEDimension {
		return nil, 0, 0, false
	}
	for i := range t.glwe {
		if t.glwe[i].k == lit.GLWERank && t.glwe[i].logN == lit.LogPolyDegree {
			g = &t.glwe[i]
		}
	}
	if g == nil {
		return nil, 0, 0, false
	}
	br = -1
	for i, d := range g.br {
		if d.level == lit.BRLevel && d.logBase == lit.BRLogBase {
			br = i
		}
	}
	if br < 0 {
		return nil, 0, 0, false
	}
	ks = -1
	for j, d := range t.ks[lit.LWEDimension-minN] {
		if d.level == lit.KSLevel && d.logBase == lit.KSLogBase {
			ks = j
		}
	}
	return g, br, ks, true
}

// CheckTimer checks that t keeps the contract of [Timer] on a sample of
// [DefaultSpace] at a security level: for every secure (k, N), every 64th n up to k·N
// and k·N itself, every decomposition the search keeps, that prices are finite and ≥ 0,
// that the bootstrap and both keyswitch prices do not fall as their level grows, that
// they do not depend on the log2 base, that the bootstrap does not depend on the
// keyswitch decomposition nor the atomic keyswitch on the blind-rotation one, and that
// levelled work is linear in its count and does not depend on n (all within a relative
// 1e-9). Errors wrap [ErrInvalidQuery] and name the first set that breaks the contract.
func CheckTimer(t Timer, security int) error {
	tabs, err := buildDecompositionTables(DefaultSpace(), security)
	if err != nil {
		return err
	}
	s := tabs.space
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*max(math.Abs(a), math.Abs(b)) }
	fail := func(lit ParamsLiteral, format string, args ...any) error {
		return fmt.Errorf("%w: timer breaks the Timer contract at %v: %s", ErrInvalidQuery, lit, fmt.Sprintf(format, args...))
	}
	for gi := range tabs.glwe {
		g := &tabs.glwe[gi]
		top := min(s.MaxLWEDimension, g.kN)
		var lev0 float64
		for n := s.MinLWEDimension; n <= top; n += 64 {
			if n+64 > top {
				n = top // the last sample is k·N (or the space's end)
			}
			ksl := tabs.ks[n-s.MinLWEDimension]
			if ksl == nil {
				continue
			}
			first, last := ksl[0], ksl[len(ksl)-1]
			base := tabs.literal(g, n, g.br[0], first)
			lev := t.LevelledMillis(Params{lit: base}, 1)
			if err := badPrice("levelled multiply-add", base, lev); err != nil {
				return err
			}
			if two := t.LevelledMillis(Params{lit: base}, 2); !near(two, 2*lev) {
				return fail(base, "2 multiply-adds take %g ms, one %g ms", two, lev)
			}
			if n == s.MinLWEDimension {
				lev0 = lev
			} else if !near(lev, lev0) {
				return fail(base, "a multiply-add takes %g ms at this n, %g ms at n = %d", lev, lev0, s.MinLWEDimension)
			}
			prev := 0.0
			for _, br := range g.br {
				lit := tabs.literal(g, n, br, first)
				b := t.BootstrapMillis(Params{lit: lit})
				if err := badPrice("bootstrap", lit, b); err != nil {
					return err
				}
				if b < prev && !near(b, prev) {
					return fail(lit, "the bootstrap takes %g ms, less than %g ms at a lower level", b, prev)
				}
				if o := t.BootstrapMillis(Params{lit: tabs.literal(g, n, br, last)}); !near(o, b) {
					return fail(lit, "the bootstrap takes %g ms with keyswitch %d×2^%d, %g ms with %d×2^%d", o, last.level, last.logBase, b, first.level, first.logBase)
				}
				if o := t.BootstrapMillis(Params{lit: tabs.literal(g, n, decomposition{level: br.level, logBase: 1}, first)}); !near(o, b) {
					return fail(lit, "the bootstrap takes %g ms with log2 base 1, %g ms with %d", o, b, br.logBase)
				}
				prev = b
			}
			prev, prevBetween := 0.0, 0.0
			for _, d := range ksl {
				lit := tabs.literal(g, n, g.br[0], d)
				p := Params{lit: lit}
				ks := keySwitchPart(t.PBSMillis(p), t.BootstrapMillis(p))
				if err := badPrice("keyswitch (PBSMillis − BootstrapMillis)", lit, ks); err != nil {
					return err
				}
				if ks < prev && !near(ks, prev) {
					return fail(lit, "the keyswitch takes %g ms, less than %g ms at a lower level", ks, prev)
				}
				other := Params{lit: tabs.literal(g, n, g.br[len(g.br)-1], d)}
				if o := t.PBSMillis(other) - t.BootstrapMillis(other); math.Abs(o-ks) > 1e-9*t.PBSMillis(p) {
					return fail(lit, "the keyswitch takes %g ms with the last blind-rotation decomposition, %g ms with the first", o, ks)
				}
				base1 := Params{lit: tabs.literal(g, n, g.br[0], decomposition{level: d.level, logBase: 1})}
				if o := t.PBSMillis(base1) - t.BootstrapMillis(base1); math.Abs(o-ks) > 1e-9*t.PBSMillis(p) {
					return fail(lit, "the keyswitch takes %g ms with log2 base 1, %g ms with %d", o, ks, d.logBase)
				}
				between := t.KeySwitchMillis(Params{lit: base}, p, d.level)
				if err := badPrice("keyswitch between keys", lit, between); err != nil {
					return err
				}
				if between < prevBetween && !near(between, prevBetween) {
					return fail(lit, "a keyswitch between keys takes %g ms, less than %g ms at a lower level", between, prevBetween)
				}
				prev, prevBetween = ks, between
			}
		}
	}
	return nil
}
