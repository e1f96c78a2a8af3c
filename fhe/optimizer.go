package fhe

import (
	"fmt"
	"math"
	"slices"
	"sync"
)

// Space is the search space of the optimizer. Decompositions always range over every
// level and log2 base with level·log2base ≤ 64.
type Space struct {
	// MinGLWERank and MaxGLWERank bound k (default 1..6).
	MinGLWERank, MaxGLWERank int
	// MinLogPolyDegree and MaxLogPolyDegree bound log2 N (default 8..17).
	MinLogPolyDegree, MaxLogPolyDegree int
	// MinLWEDimension and MaxLWEDimension bound n (default 512..2047).
	MinLWEDimension, MaxLWEDimension int
}

// DefaultSpace returns Concrete's CPU search space: k 1..6, log2 N 8..17, n 512..2047.
func DefaultSpace() Space {
	return Space{MinGLWERank: 1, MaxGLWERank: 6, MinLogPolyDegree: 8, MaxLogPolyDegree: 17,
		MinLWEDimension: 512, MaxLWEDimension: 2047}
}

func (s Space) validate() error {
	switch {
	case s.MinGLWERank < 1 || s.MaxGLWERank > maxGLWERank || s.MinGLWERank > s.MaxGLWERank:
		return fmt.Errorf("%w: search space glwe_dimension %d..%d not within 1..%d", ErrInvalidQuery, s.MinGLWERank, s.MaxGLWERank, maxGLWERank)
	case s.MinLogPolyDegree < 1 || s.MaxLogPolyDegree > maxLogPolyDegree || s.MinLogPolyDegree > s.MaxLogPolyDegree:
		return fmt.Errorf("%w: search space log2_polynomial_size %d..%d not within 1..%d", ErrInvalidQuery, s.MinLogPolyDegree, s.MaxLogPolyDegree, maxLogPolyDegree)
	case s.MinLWEDimension < 1 || s.MaxLWEDimension > maxLWEDimension || s.MinLWEDimension > s.MaxLWEDimension:
		return fmt.Errorf("%w: search space lwe_dimension %d..%d not within 1..%d", ErrInvalidQuery, s.MinLWEDimension, s.MaxLWEDimension, maxLWEDimension)
	}
	return nil
}

// Query asks for the cheapest parameter set of one TLU.
type Query struct {
	// Precision is the TLU input bit-width, 1..16.
	Precision int
	// Log2Norm2 is log2 of the 2-norm of the integer weights of the dot product feeding
	// the TLU, 0..64; the bootstrap noise is multiplied by 2^(2·Log2Norm2).
	Log2Norm2 float64
	// PError is the largest acceptable error probability of the TLU, in (0, 1).
	PError float64
	// Security is the security level in bits; zero means [DefaultSecurity].
	Security int
	// SumSize is the number of terms of the dot product, which only adds cost; zero
	// means [DefaultSumSize].
	SumSize int
	// Cost is what the search minimizes; empty means the optimizer's default
	// ([WithCost]). [CostMS] needs an optimizer made [WithTimer].
	Cost CostKind
}

// maxLog2Norm2 bounds Query.Log2Norm2: a larger norm2 leaves no room in 64 bits.
const maxLog2Norm2 = 64

// normalize fills the defaults and checks every field; the cost must be resolved
// ([Optimizer.resolveCost]).
func (q Query) normalize() (Query, error) {
	if q.Security == 0 {
		q.Security = DefaultSecurity
	}
	if q.SumSize == 0 {
		q.SumSize = DefaultSumSize
	}
	if err := CheckPrecision(q.Precision); err != nil {
		return q, err
	}
	if err := CheckPError("p_error", q.PError); err != nil {
		return q, err
	}
	if !(q.Log2Norm2 >= 0 && q.Log2Norm2 <= maxLog2Norm2) {
		return q, fmt.Errorf("%w: log2 norm2 %g outside 0..%d", ErrInvalidQuery, q.Log2Norm2, maxLog2Norm2)
	}
	if q.Log2Norm2 == 0 {
		q.Log2Norm2 = 0 // −0 and +0 share a cache entry
	}
	if q.SumSize < 1 || q.SumSize > 1<<30 {
		return q, fmt.Errorf("%w: sum size %d outside 1..%d", ErrInvalidQuery, q.SumSize, 1<<30)
	}
	if err := CheckSecurity(q.Security); err != nil {
		return q, err
	}
	if q.Cost != CostMS && q.Cost != CostComplexity {
		return q, fmt.Errorf("%w: cost %q: want ms or complexity", ErrInvalidQuery, q.Cost)
	}
	return q, nil
}

// String describes the query, e.g. "precision 4, log2 norm2 0, p_error 6.3e-05 at 128 bits".
func (q Query) String() string {
	return fmt.Sprintf("precision %d, log2 norm2 %g, p_error %g at %d bits", q.Precision, q.Log2Norm2, q.PError, q.Security)
}

// Solution is the parameter set chosen for a query, with what explains the choice.
type Solution struct {
	// Query is the query answered, with its defaults filled in.
	Query Query
	// Params is the chosen set.
	Params Params
	// Complexity is the cost of one TLU: dot product, keyswitch and bootstrap.
	Complexity float64
	// Variance is the variance at decoding for the query's norm2 (modular units).
	Variance float64
	// VarianceBound is the largest variance the query's precision and p_error allow.
	VarianceBound float64
	// PError is the actual error probability of one TLU, at most Query.PError.
	PError float64
	// Noise and Cost are the variance and complexity terms of the set.
	Noise Noise
	Cost  Cost
	// MS is the predicted milliseconds of one TLU on one core by the optimizer's
	// [Timer] (dot product of SumSize terms, keyswitch and bootstrap), whichever cost
	// chose the set: what [CostMS] minimizes. It is 0 for an optimizer without a Timer.
	MS float64
}

// newSolution evaluates p for q through the public Params methods, and prices it with
// the optimizer's Timer when it has one.
func (o *Optimizer) newSolution(q Query, p Params) (Solution, error) {
	z, err := p.Noise(q.Security)
	if err != nil {
		return Solution{}, err
	}
	c := p.Cost(q.SumSize)
	v := z.AtDecoding(q.Log2Norm2)
	s := Solution{
		Query:         q,
		Params:        p,
		Complexity:    c.Total(),
		Variance:      v,
		VarianceBound: VarianceBound(q.Precision, q.PError),
		PError:        PErrorOfVariance(q.Precision, v),
		Noise:         z,
		Cost:          c,
	}
	if o.timer != nil {
		s.MS = o.predictTLU(p, q.SumSize, q.Security)
	}
	return s, nil
}

// predictTLU returns the Timer's milliseconds of one TLU of p after a dot product of
// sumSize terms, priced as the milliseconds objective prices it, or as the Timer says
// when the objective cannot price it (a set outside the tables, a Timer that breaks its
// contract).
func (o *Optimizer) predictTLU(p Params, sumSize, security int) float64 {
	if pr, err := o.pricing(CostMS, security); err == nil {
		pr.direct = true
		if ms, ok := pr.tluCost(p, sumSize); ok {
			return ms
		}
	}
	return float64(sumSize)*o.timer.LevelledMillis(p, 1) + o.timer.PBSMillis(p)
}

// Optimizer finds the cheapest secure parameter set of a TLU: the set of least cost
// whose variance at decoding stays within the bound that the precision and p_error
// give. The cost is Concrete's complexity or, with a [Timer], calibrated milliseconds
// ([CostKind]; the default is [WithCost]'s). The search is exact over its [Space] (no
// set of the space is cheaper; with milliseconds, no set with n ≤ k·N, the sets the
// calibrated library runs); among sets of equal cost it prefers the least noise
// relative to the bound, then
// the smaller CMux and keyswitch variances, then the smaller parameters in the order k,
// log2 N, n, br level, br base, ks level, ks base.
//
// Answers are memoized per query (and per graph, [Optimizer.Graph]), the cost kind
// included, and the per-(k, N) and per-n decomposition tables (and the Timer's prices of
// them) per security level, so an Optimizer is best kept for the life of a program. It
// is safe for concurrent use.
type Optimizer struct {
	space Space
	// timer prices sets in milliseconds (nil: complexity only); cost is the default
	// objective of queries and graphs that name none.
	timer Timer
	cost  CostKind

	mu     sync.Mutex // protects memo, tables, ms and graphs
	memo   map[Query]*memoEntry
	tables map[int]*tablesEntry
	ms     map[int]*msEntry       // the Timer's prices per security level, made on first use
	graphs map[string]*graphEntry // Graph answers by canonical key, made on first use
}

type msEntry struct {
	once sync.Once
	m    *msTables
	err  error
}

type memoEntry struct {
	once sync.Once
	sol  Solution
	err  error
}

type tablesEntry struct {
	once sync.Once
	t    *decompositionTables
	err  error
}

// OptimizerOption configures [NewOptimizer].
type OptimizerOption func(*Optimizer) error

// WithSpace restricts or widens the search space (default [DefaultSpace]).
func WithSpace(s Space) OptimizerOption {
	return func(o *Optimizer) error {
		if err := s.validate(); err != nil {
			return err
		}
		o.space = s
		return nil
	}
}

// WithTimer lets the optimizer price sets in milliseconds with t, for queries and graphs
// whose cost is [CostMS], and fills [Solution.MS] and [GraphSolution.MS]. It does not
// change the default cost ([WithCost]). The Timer should keep to its contract (see
// [Timer]).
func WithTimer(t Timer) OptimizerOption {
	return func(o *Optimizer) error {
		if t == nil {
			return fmt.Errorf("%w: nil timer", ErrInvalidQuery)
		}
		o.timer = t
		return nil
	}
}

// WithCost sets the cost of queries and graphs that name none (default
// [CostComplexity]); [CostMS] needs [WithTimer] too.
func WithCost(c CostKind) OptimizerOption {
	return func(o *Optimizer) error {
		k, err := ParseCostKind(string(c))
		if err != nil {
			return err
		}
		o.cost = k
		return nil
	}
}

// NewOptimizer returns an optimizer over [DefaultSpace] that minimizes Concrete's
// complexity unless an option says otherwise.
func NewOptimizer(opts ...OptimizerOption) (*Optimizer, error) {
	o := &Optimizer{
		space:  DefaultSpace(),
		cost:   CostComplexity,
		memo:   make(map[Query]*memoEntry),
		tables: make(map[int]*tablesEntry),
		ms:     make(map[int]*msEntry),
	}
	for _, opt := range opts {
		if err := opt(o); err != nil {
			return nil, fmt.Errorf("fhe: new optimizer: %w", err)
		}
	}
	if o.cost == CostMS && o.timer == nil {
		return nil, fmt.Errorf("fhe: new optimizer: %w: cost ms needs a timer (WithTimer)", ErrInvalidQuery)
	}
	return o, nil
}

// Space returns the optimizer's search space.
func (o *Optimizer) Space() Space { return o.space }

// Cost returns the cost of queries and graphs that name none.
func (o *Optimizer) Cost() CostKind { return o.cost }

// resolveCost returns c, or the optimizer's default when c is empty, and checks that the
// optimizer can price it.
func (o *Optimizer) resolveCost(c CostKind) (CostKind, error) {
	if c == "" {
		return o.cost, nil
	}
	k, err := ParseCostKind(string(c))
	if err != nil {
		return "", err
	}
	if k == CostMS && o.timer == nil {
		return "", fmt.Errorf("%w: cost ms needs an optimizer with a timer (WithTimer)", ErrInvalidQuery)
	}
	return k, nil
}

// pricing returns a pricing of the cost kind for one search at a security level.
func (o *Optimizer) pricing(c CostKind, security int) (*pricing, error) {
	t, err := o.decompositions(security)
	if err != nil {
		return nil, err
	}
	pr := &pricing{t: t}
	if c != CostMS {
		return pr, nil
	}
	o.mu.Lock()
	e, ok := o.ms[security]
	if !ok {
		e = &msEntry{}
		o.ms[security] = e
	}
	o.mu.Unlock()
	e.once.Do(func() { e.m, e.err = buildMSTables(o.timer, t) })
	if e.err != nil {
		return nil, fmt.Errorf("fhe: price sets in ms: %w", e.err)
	}
	pr.ms = e.m
	return pr, nil
}

// Optimize returns the cheapest set for q. Errors wrap [ErrInvalidQuery] or
// [ErrUnsupportedSecurity] for bad values and [ErrNoSolution] when no set of the
// space meets q; the message names the precision, norm2 and p_error.
func (o *Optimizer) Optimize(q Query) (Solution, error) {
	c, err := o.resolveCost(q.Cost)
	if err != nil {
		return Solution{}, err
	}
	q.Cost = c
	q, err = q.normalize()
	if err != nil {
		return Solution{}, err
	}
	o.mu.Lock()
	e, ok := o.memo[q]
	if !ok {
		e = &memoEntry{}
		o.memo[q] = e
	}
	o.mu.Unlock()
	e.once.Do(func() { e.sol, e.err = o.optimize(q) })
	return e.sol, e.err
}

func (o *Optimizer) optimize(q Query) (Solution, error) {
	pr, err := o.pricing(q.Cost, q.Security)
	if err != nil {
		return Solution{}, err
	}
	t := pr.t
	cons := []constraint{{f: norm2Squared(q.Log2Norm2), bound: VarianceBound(q.Precision, q.PError)}}
	best := noCandidate()
	for _, g := range t.byLowerBound(pr, float64(q.SumSize), 1) {
		if g.lowerBound > best.cost {
			break
		}
		t.searchGLWE(g.glwe, pr, cons, float64(q.SumSize), 1, &best)
	}
	if err := pr.failed(); err != nil {
		return Solution{}, fmt.Errorf("fhe: optimize %v: %w", q, err)
	}
	if !best.present {
		return Solution{}, fmt.Errorf("%w: %v, sum size %d", ErrNoSolution, q, q.SumSize)
	}
	p, err := best.lit.Compile()
	if err != nil {
		return Solution{}, fmt.Errorf("fhe: optimize %v: %w", q, err)
	}
	return o.newSolution(q, p)
}

// Alternatives returns, for every (k, N) of the space that has a solution, the cheapest
// set with that k and N (by the query's cost), cheapest first. The first one is
// [Optimizer.Optimize]'s answer; the others show what the choice saves.
func (o *Optimizer) Alternatives(q Query) ([]Solution, error) {
	c, err := o.resolveCost(q.Cost)
	if err != nil {
		return nil, err
	}
	q.Cost = c
	q, err = q.normalize()
	if err != nil {
		return nil, err
	}
	pr, err := o.pricing(q.Cost, q.Security)
	if err != nil {
		return nil, err
	}
	t := pr.t
	cons := []constraint{{f: norm2Squared(q.Log2Norm2), bound: VarianceBound(q.Precision, q.PError)}}
	var out []Solution
	for i := range t.glwe {
		best := noCandidate()
		t.searchGLWE(&t.glwe[i], pr, cons, float64(q.SumSize), 1, &best)
		if err := pr.failed(); err != nil {
			return nil, fmt.Errorf("fhe: alternatives for %v: %w", q, err)
		}
		if !best.present {
			continue
		}
		p, err := best.lit.Compile()
		if err != nil {
			return nil, fmt.Errorf("fhe: alternatives for %v: %w", q, err)
		}
		s, err := o.newSolution(q, p)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %v, sum size %d", ErrNoSolution, q, q.SumSize)
	}
	cost := func(s Solution) float64 {
		if q.Cost == CostMS {
			return s.MS
		}
		return s.Complexity
	}
	slices.SortStableFunc(out, func(a, b Solution) int {
		switch {
		case cost(a) < cost(b):
			return -1
		case cost(a) > cost(b):
			return 1
		}
		return 0
	})
	return out, nil
}

// decompositions returns the decomposition tables of a security level, building them
// on first use.
func (o *Optimizer) decompositions(security int) (*decompositionTables, error) {
	o.mu.Lock()
	e, ok := o.tables[security]
	if !ok {
		e = &tablesEntry{}
		o.tables[security] = e
	}
	o.mu.Unlock()
	e.once.Do(func() { e.t, e.err = buildDecompositionTables(o.space, security) })
	return e.t, e.err
}

// ---- the exact search ----

// constraint is one decoding that the set must keep correct:
//
//	f·V_BR + s·(V_KS + V_MS) + fresh·σ_min(kN)² ≤ bound
//
// with s, the coefficient of the keyswitch and modulus-switch terms, 1 for the input of a
// bootstrap and 0 for an output decrypted as it is (output). A TLU of the atomic pattern
// ([Optimizer.Optimize], [Optimizer.Circuit]) is {f: norm2², bound}: s = 1, no fresh term.
// The fields after bound serve the joint optimizer ([Optimizer.Graph], graph_optimize.go).
type constraint struct {
	f, bound float64
	// output drops the keyswitch and modulus-switch terms (coefficient 0 instead of 1).
	output bool
	// fresh is the coefficient of σ_min(kN)², the variance of a fresh encryption under
	// the big key; c is fresh·σ_min(kN)² for the (k, N) being searched
	// ([constraintSet.atGLWE] sets it).
	fresh, c float64
	// limit is the noise limit 2^(64−p−2) and count the decodings per inference, for the
	// global error budget.
	limit, count float64
	// accept and reject bound the variance for the global budget's fast paths: every
	// constraint at or below accept keeps the budget (an even split of it); one above
	// reject breaks it alone.
	accept, reject float64
}

// variance returns the constraint's variance at decoding for the terms n·V_cmux (before
// the factor f), kN·V_ks1 and V_ms. For a TLU it is decodingVariance, bit for bit.
func (c *constraint) variance(nCMux, ks, ms float64) float64 {
	if c.output {
		return c.f*nCMux + c.c
	}
	return decodingVariance(c.f, nCMux, ks, ms) + c.c
}

// globalSlack is the relative tolerance of a global error budget: the inverse error
// function and erfc round trips lose a few ulps, and a split that meets its per-decoding
// targets must meet the budget.
const globalSlack = 1e-9

// constraintSet is the constraints of one search and how they combine: each within its
// bound (per-decoding p_error), or together within a global error budget,
// Σ count·(−ln(1 − p_error)) ≤ −ln(1 − global_p_error)·(1 + globalSlack). Either way
// feasibility only grows when a variance falls, which the exact search relies on. A set
// is used by one search at a time (it holds scratch space).
type constraintSet struct {
	list   []constraint
	global bool
	budget float64
	// fresh says whether some constraint has a fresh term (c then depends on (k, N)).
	fresh bool
	vs    []float64 // scratch: one variance per constraint
}

// atGLWE sets each constraint's constant term c for the (k, N) of g.
func (s *constraintSet) atGLWE(g *glweTable) {
	if !s.fresh {
		return
	}
	for i := range s.list {
		s.list[i].c = s.list[i].fresh * g.vBSK
	}
}

// feasibleGeneral is feasible for any constraint (outputs, fresh terms). It is small
// enough for the compiler to inline, which searchSet relies on for its speed; a global
// budget takes [constraintSet.feasibleGlobal].
func feasibleGeneral(cons []constraint, nCMux, ks, ms float64) bool {
	for i := range cons {
		if c := &cons[i]; c.variance(nCMux, ks, ms) > c.bound {
			return false
		}
	}
	return true
}

// feasibleGlobal reports whether the constraints keep the global budget for the given
// terms.
func (s *constraintSet) feasibleGlobal(nCMux, ks, ms float64) bool {
	return s.feasibleVariances(s.variances(nCMux, ks, ms))
}

// variances returns every constraint's variance for the given terms, in the scratch
// buffer.
func (s *constraintSet) variances(nCMux, ks, ms float64) []float64 {
	vs := s.scratch()
	for i := range s.list {
		vs[i] = s.list[i].variance(nCMux, ks, ms)
	}
	return vs
}

// scratch returns the variance buffer, one entry per constraint.
func (s *constraintSet) scratch() []float64 {
	if len(s.vs) != len(s.list) {
		s.vs = make([]float64, len(s.list))
	}
	return s.vs
}

// feasibleVariances reports whether the constraints hold at the given variances (one
// per constraint, in order).
func (s *constraintSet) feasibleVariances(vs []float64) bool {
	if !s.global {
		for i := range s.list {
			if vs[i] > s.list[i].bound {
				return false
			}
		}
		return true
	}
	all := true
	for i := range s.list {
		c := &s.list[i]
		if vs[i] > c.reject {
			return false
		}
		if vs[i] > c.accept {
			all = false
		}
	}
	if all {
		return true
	}
	e := 0.0
	for i := range s.list {
		e += s.list[i].loss(vs[i])
		if e > s.budget {
			return false
		}
	}
	return true
}

// loss returns count·(−ln(1 − p)), p the error probability at variance v: the share of
// the global budget the constraint takes; +Inf beyond reject, where it alone breaks the
// budget.
func (c *constraint) loss(v float64) float64 {
	if v > c.reject {
		return math.Inf(1)
	}
	p := PErrorOfKappa(c.limit / math.Sqrt(v))
	return -c.count * math.Log1p(-p)
}

// ratioVariances returns the largest variance/bound over the constraints, or with a
// global budget the share of the budget taken.
func (s *constraintSet) ratioVariances(vs []float64) float64 {
	r := 0.0
	if !s.global {
		for i := range s.list {
			r = max(r, vs[i]/s.list[i].bound)
		}
		return r
	}
	for i := range s.list {
		r += s.list[i].loss(vs[i])
	}
	return r / s.budget
}

// reachableGeneral is reachable for any constraint: false means the constraints break
// when the blind rotation adds at least nCMux (before the factor f) and the keyswitch
// and modulus switch together at least floor (outputs have neither), with room for
// rounding. Inlined like feasibleGeneral; a global budget takes
// [constraintSet.reachableGlobal].
func reachableGeneral(cons []constraint, nCMux, floor float64) bool {
	for i := range cons {
		c := &cons[i]
		lb := c.f*nCMux + c.c
		if !c.output {
			lb = c.f*nCMux + floor + c.c
		}
		if lb > c.bound*boundSlack {
			return false
		}
	}
	return true
}

// reachableGlobal is reachable for a global budget.
func (s *constraintSet) reachableGlobal(nCMux, floor float64) bool {
	vs := s.scratch()
	for i := range s.list {
		c := &s.list[i]
		lb := c.f*nCMux + c.c
		if !c.output {
			lb = c.f*nCMux + floor + c.c
		}
		vs[i] = lb / boundSlack
	}
	return s.feasibleVariances(vs)
}

// ratioGeneral is ratio for any constraint. Inlined like feasibleGeneral; a global
// budget takes [constraintSet.ratioGlobal].
func ratioGeneral(cons []constraint, nCMux, ks, ms float64) float64 {
	r := 0.0
	for i := range cons {
		c := &cons[i]
		r = max(r, c.variance(nCMux, ks, ms)/c.bound)
	}
	return r
}

// ratioGlobal returns the share of the global budget the constraints take for the
// given terms.
func (s *constraintSet) ratioGlobal(nCMux, ks, ms float64) float64 {
	return s.ratioVariances(s.variances(nCMux, ks, ms))
}

// objective weighs the costs of a set: levelled·lev + pbs·PBS + ks·KS. A TLU of sum
// size s is {s, 1, 1}; a circuit adds its counts.
type objective struct {
	levelled, pbs, ks float64
}

// cost returns the objective of a set with the given price of a levelled multiply-add
// (k·N for complexity) and PBS and KS prices. With equal PBS and KS weights it is
// atomCost, bit for bit.
func (w objective) cost(lev, pbs, ks float64) float64 {
	if w.pbs == w.ks {
		return atomCost(lev, w.levelled, w.pbs, pbs, ks)
	}
	return w.levelled*lev + (w.pbs*pbs + w.ks*ks)
}

// decomposition is one (level, log2 base) with its variance: per CMux for the blind
// rotation, per input coefficient for the keyswitch.
type decomposition struct {
	level, logBase int
	variance       float64
}

// glweTable holds, for one secure (k, N), the blind-rotation decompositions that can be
// optimal: for each level the base of least CMux variance, kept only when its variance
// is below that of every lower level (cost grows with the level).
type glweTable struct {
	idx         int // index in decompositionTables.glwe
	k, logN, kN int
	vBSK        float64 // σ_min(kN)²: the bootstrapping key's and a fresh encryption's noise
	br          []decomposition
	brCost      []float64 // CMux complexity of br[i]
	msScale     float64   // q²/(2N)² of the modulus switch
	// floor[i] ≤ min over m ≥ MinLWEDimension+i of kN·V_ks1(m) + V_ms(m) with the
	// least keyswitch variance of each m (+Inf where no m is secure): with n·V_cmux it
	// bounds from below the variance of every set with this (k, N) and n ≥ m.
	floor []float64
}

// decompositionTables holds the per-(k, N) and per-n decomposition tables of one
// security level; they do not depend on precision, norm2 or p_error.
type decompositionTables struct {
	space Space
	glwe  []glweTable
	ks    [][]decomposition // ks[n − MinLWEDimension], same Pareto rule as br
}

func buildDecompositionTables(s Space, security int) (*decompositionTables, error) {
	if err := CheckSecurity(security); err != nil {
		return nil, err
	}
	t := &decompositionTables{space: s}
	for k := s.MinGLWERank; k <= s.MaxGLWERank; k++ {
		for logN := s.MinLogPolyDegree; logN <= s.MaxLogPolyDegree; logN++ {
			kN := k << logN
			vBSK, err := MinVariance(kN, security)
			if err != nil {
				continue // insecure GLWE key
			}
			g := glweTable{idx: len(t.glwe), k: k, logN: logN, kN: kN, vBSK: vBSK}
			g.br = paretoDecompositions(func(level, logBase int) float64 {
				return cmuxVariance(k, logN, level, logBase, vBSK)
			})
			for _, d := range g.br {
				g.brCost = append(g.brCost, cmuxComplexity(k, logN, d.level))
			}
			g.msScale = modulusSwitchScale(logN)
			t.glwe = append(t.glwe, g)
		}
	}
	// The keyswitch variance per coefficient is a key-free term plus a term linear in
	// V_ksk(n); tabulate the key-free parts once (the same functions as
	// keySwitchVariancePerCoefficient, so the values are bit-identical).
	var decTerm [logQ + 1][logQ + 1]float64
	var b2p2 [logQ + 1]float64
	for b := 1; b <= logQ; b++ {
		b2p2[b] = pow2(2*b) + 2
		for level := 1; level*b <= logQ; level++ {
			decTerm[level][b] = keySwitchDecompositionTerm(level, b)
		}
	}
	t.ks = make([][]decomposition, s.MaxLWEDimension-s.MinLWEDimension+1)
	for n := s.MinLWEDimension; n <= s.MaxLWEDimension; n++ {
		vKSK, err := MinVariance(n, security)
		if err != nil {
			continue // insecure LWE key: no keyswitch table, n is skipped
		}
		t.ks[n-s.MinLWEDimension] = paretoKeySwitch(&decTerm, &b2p2, vKSK)
	}
	for i := range t.glwe {
		g := &t.glwe[i]
		g.floor = make([]float64, len(t.ks))
		low := math.Inf(1)
		for j := len(t.ks) - 1; j >= 0; j-- {
			if ksl := t.ks[j]; ksl != nil {
				n := s.MinLWEDimension + j
				low = min(low, float64(g.kN)*ksl[len(ksl)-1].variance+modulusSwitchVarianceScaled(n, g.msScale))
			}
			g.floor[j] = low
		}
	}
	return t, nil
}

// paretoKeySwitch returns the same list as paretoDecompositions for the keyswitch
// variance per coefficient v(l, b) = dec(l, b) + key(l, b), with dec(l, b) =
// decTerm[l][b] falling with b and key(l, b) = l·V_ksk·(B²+2)/12 growing with l and b
// (both ≥ 0; rounding preserves these orders), while evaluating few of the bases:
//   - from a start base, scanning up stops once key(l, b) ≥ the level's best so far
//     (every larger base is no better, and loses a tie to the smaller one);
//   - scanning down stops once dec(l, b) > the best so far (every smaller base is worse);
//   - levels stop once key(l, 1) ≥ the last kept variance: no higher level can be kept.
func paretoKeySwitch(decTerm *[logQ + 1][logQ + 1]float64, b2p2 *[logQ + 1]float64, vKSK float64) []decomposition {
	var out []decomposition
	last := math.Inf(1)
	start := 8
	for level := 1; level <= logQ; level++ {
		if keySwitchKeyTerm(level, b2p2[1], vKSK) >= last {
			break
		}
		maxB := logQ / level
		b0 := min(start, maxB)
		best := decomposition{level: level, variance: math.Inf(1)}
		for b := b0; b <= maxB; b++ {
			key := keySwitchKeyTerm(level, b2p2[b], vKSK)
			if key >= best.variance {
				break
			}
			if v := decTerm[level][b] + key; v < best.variance {
				best.logBase, best.variance = b, v
			}
		}
		for b := b0 - 1; b >= 1; b-- {
			if decTerm[level][b] > best.variance {
				break
			}
			if v := decTerm[level][b] + keySwitchKeyTerm(level, b2p2[b], vKSK); v <= best.variance {
				best.logBase, best.variance = b, v
			}
		}
		start = best.logBase
		if best.variance < last {
			out = append(out, best)
			last = best.variance
		}
	}
	return out
}

// paretoDecompositions returns, by increasing level, the decompositions that can be
// optimal when the cost grows with the level only: for each level the log2 base of
// least variance (the smaller base on a tie), kept when its variance is strictly below
// every kept lower level's. Every base with level·base ≤ 64 is evaluated.
func paretoDecompositions(variance func(level, logBase int) float64) []decomposition {
	var out []decomposition
	last := math.Inf(1)
	for level := 1; level <= logQ; level++ {
		best := decomposition{level: level, variance: math.Inf(1)}
		for b := 1; level*b <= logQ; b++ {
			if v := variance(level, b); v < best.variance {
				best.logBase, best.variance = b, v
			}
		}
		if best.variance < last {
			out = append(out, best)
			last = best.variance
		}
	}
	return out
}

// glweBound is a (k, N) with a lower bound of the cost of any set using it.
type glweBound struct {
	glwe       *glweTable
	lowerBound float64
}

// byLowerBound returns the (k, N) tables in increasing order of the cost of their
// cheapest conceivable set: smallest n, first blind-rotation level, keyswitch level 1
// (with milliseconds, the least prices over every n). A (k, N) that the pricing cannot
// search comes last, at +Inf.
func (t *decompositionTables) byLowerBound(pr *pricing, levelled, atomic float64) []glweBound {
	out := make([]glweBound, len(t.glwe))
	n := t.space.MinLWEDimension
	for i := range t.glwe {
		g := &t.glwe[i]
		lb := math.Inf(1)
		if pr.nMax(g) >= n {
			lb = pr.lowCost(g, n, levelled, atomic, atomic)
		}
		out[i] = glweBound{g, lb}
	}
	slices.SortStableFunc(out, func(a, b glweBound) int {
		switch {
		case a.lowerBound < b.lowerBound:
			return -1
		case a.lowerBound > b.lowerBound:
			return 1
		}
		return 0
	})
	return out
}

// byObjective is byLowerBound for any objective.
func (t *decompositionTables) byObjective(pr *pricing, w objective) []glweBound {
	out := make([]glweBound, len(t.glwe))
	n := t.space.MinLWEDimension
	for i := range t.glwe {
		g := &t.glwe[i]
		lb := math.Inf(1)
		if pr.nMax(g) >= n {
			lb = pr.lowCost(g, n, w.levelled, w.pbs, w.ks)
		}
		out[i] = glweBound{g, lb}
	}
	slices.SortStableFunc(out, func(a, b glweBound) int {
		switch {
		case a.lowerBound < b.lowerBound:
			return -1
		case a.lowerBound > b.lowerBound:
			return 1
		}
		return 0
	})
	return out
}

// atomCost is the objective: levelled·lev + atomic·(KS + PBS), lev the price of one
// levelled multiply-add (k·N for complexity). With levelled = sum size and atomic = 1 it
// is [Params.Complexity], exactly (integers below 2^53).
func atomCost(lev, levelled, atomic, pbs, ks float64) float64 {
	return levelled*lev + atomic*(ks+pbs)
}

// candidate is one set met during the search, with its comparison keys.
type candidate struct {
	cost    float64
	ratio   float64 // max over constraints of variance/bound (global budget: share taken)
	cmux    float64 // CMux variance
	ks1     float64 // keyswitch variance per coefficient
	lit     ParamsLiteral
	present bool
}

func noCandidate() candidate { return candidate{cost: math.Inf(1)} }

// better reports whether a comes strictly before b in the optimizer's total order.
func (a candidate) better(b candidate) bool {
	if !b.present {
		return a.present
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
	return literalLess(a.lit, b.lit)
}

// literalLess orders literals by k, log2 N, n, br level, br base, ks level, ks base.
func literalLess(a, b ParamsLiteral) bool {
	x := [...]int{a.GLWERank, a.LogPolyDegree, a.LWEDimension, a.BRLevel, a.BRLogBase, a.KSLevel, a.KSLogBase}
	y := [...]int{b.GLWERank, b.LogPolyDegree, b.LWEDimension, b.BRLevel, b.BRLogBase, b.KSLevel, b.KSLogBase}
	return slices.Compare(x[:], y[:]) < 0
}

// boundSlack widens the bounds in reachable so that rounding (a few ulps) can never
// make a lower bound exceed a variance that the exact check would accept.
const boundSlack = 1 + 1e-9

// feasible reports whether every constraint holds for the given terms (n·V_cmux,
// kN·V_ks1, V_ms). It reads f and bound only: the constraints of TLUs (searchGLWE).
func feasible(cons []constraint, nCMux, ks, ms float64) bool {
	for i := range cons {
		if c := &cons[i]; decodingVariance(c.f, nCMux, ks, ms) > c.bound {
			return false
		}
	}
	return true
}

// reachable reports whether some set may still meet every constraint when its blind
// rotation adds at least nCMux (before norm2²) and the rest at least floor: false means
// f·nCMux + floor is beyond a bound, with room for rounding (TLUs, as feasible).
func reachable(cons []constraint, nCMux, floor float64) bool {
	for i := range cons {
		if c := &cons[i]; c.f*nCMux+floor > c.bound*boundSlack {
			return false
		}
	}
	return true
}

// ratio returns the largest variance/bound over the constraints (TLUs, as feasible).
func ratio(cons []constraint, nCMux, ks, ms float64) float64 {
	r := 0.0
	for i := range cons {
		c := &cons[i]
		r = max(r, decodingVariance(c.f, nCMux, ks, ms)/c.bound)
	}
	return r
}

// searchGLWE improves best with the sets of one (k, N), priced by pr. Exactness rests
// on these facts:
//   - for fixed levels the complexity strictly grows with n, so once the cheapest levels
//     at n cost more than best, no larger n can do better (with milliseconds, whose
//     keyswitch may not grow with n, the bound is the least price of any n' ≥ n:
//     pricing.lowCost);
//   - V_ms grows with n and every variance term is non-negative, so once V_ms alone
//     breaks a bound, no larger n is feasible; likewise once n·(least V_cmux)·norm2²
//     plus the least keyswitch and modulus-switch variance of any n' ≥ n (g.floor)
//     breaks it, since n·V_cmux grows with n;
//   - at fixed n and blind-rotation level i the cost grows with the keyswitch level
//     (strictly for complexity; a Timer's prices do not fall, see [Timer]), and the
//     variance falls along both Pareto lists, so the only candidate is the smallest
//     feasible keyswitch entry (found by bisection), and that entry never moves up as i
//     grows;
//   - floating-point rounding is monotone, so these orderings hold for the computed
//     values too, and the same expression (decodingVariance) decides feasibility here
//     and in Params.
//
// Pruning uses strict comparisons so that equal-cost sets still meet the tie-break.
func (t *decompositionTables) searchGLWE(g *glweTable, pr *pricing, cons []constraint, levelled, atomic float64, best *candidate) {
	kN := float64(g.kN)
	lastBR := g.br[len(g.br)-1].variance
	minN := t.space.MinLWEDimension
	lev := pr.lev(g)
	for n, maxN := minN, pr.nMax(g); n <= maxN; n++ {
		ksl := t.ks[n-minN]
		if ksl == nil {
			continue
		}
		nf := float64(n)
		if pr.lowCost(g, n, levelled, atomic, atomic) > best.cost {
			return
		}
		ks1Cost := pr.ks(g, n, 0)
		ms := modulusSwitchVarianceScaled(n, g.msScale)
		if !feasible(cons, 0, 0, ms) || !reachable(cons, nf*lastBR, g.floor[n-minN]) {
			return
		}
		if !feasible(cons, nf*lastBR, kN*ksl[len(ksl)-1].variance, ms) {
			continue
		}
		jHi := len(ksl) - 1
		for i, br := range g.br {
			pbs := pr.boot(g, n, i)
			if atomCost(lev, levelled, atomic, pbs, ks1Cost) > best.cost {
				break
			}
			nCMux := nf * br.variance
			if !feasible(cons, nCMux, kN*ksl[jHi].variance, ms) {
				continue
			}
			lo, hi := 0, jHi
			for lo < hi {
				mid := (lo + hi) / 2
				if feasible(cons, nCMux, kN*ksl[mid].variance, ms) {
					hi = mid
				} else {
					lo = mid + 1
				}
			}
			jHi = lo
			ks := ksl[lo]
			c := atomCost(lev, levelled, atomic, pbs, pr.ks(g, n, lo))
			if c > best.cost || math.IsInf(c, 1) {
				continue
			}
			cand := candidate{
				cost:  c,
				ratio: ratio(cons, nCMux, kN*ks.variance, ms),
				cmux:  br.variance,
				ks1:   ks.variance,
				lit: ParamsLiteral{GLWERank: g.k, LogPolyDegree: g.logN, LWEDimension: n,
					BRLevel: br.level, BRLogBase: br.logBase, KSLevel: ks.level, KSLogBase: ks.logBase},
				present: true,
			}
			if cand.better(*best) {
				*best = cand
			}
		}
	}
}

// searchSet is searchGLWE for any constraint set (per-decoding bounds or a global
// budget, outputs, fresh terms) and objective. The facts above hold for both: every
// term's coefficient is non-negative and feasibility only grows as a variance falls.
//
// The checks are written out for each case (cs.global or not) so that the per-decoding
// ones are inlined. Constraints of TLUs alone with the atomic objective take searchGLWE,
// the same loop without the general terms (Optimize's speed depends on it; a test
// checks that both loops agree).
func (t *decompositionTables) searchSet(g *glweTable, pr *pricing, cs *constraintSet, w objective, best *candidate) {
	if cs.plain() && w.pbs == w.ks {
		t.searchGLWE(g, pr, cs.list, w.levelled, w.pbs, best)
		return
	}
	t.searchGeneral(g, pr, cs, w, best)
}

// plain reports whether every constraint is a TLU's: per-decoding bounds, no output,
// no fresh term.
func (s *constraintSet) plain() bool {
	if s.global || s.fresh {
		return false
	}
	for i := range s.list {
		if s.list[i].output {
			return false
		}
	}
	return true
}

// searchGeneral is searchSet's loop for any constraint set.
func (t *decompositionTables) searchGeneral(g *glweTable, pr *pricing, cs *constraintSet, w objective, best *candidate) {
	cs.atGLWE(g)
	cons, global := cs.list, cs.global
	kN := float64(g.kN)
	lastBR := g.br[len(g.br)-1].variance
	minN := t.space.MinLWEDimension
	lev := pr.lev(g)
	for n, maxN := minN, pr.nMax(g); n <= maxN; n++ {
		ksl := t.ks[n-minN]
		if ksl == nil {
			continue
		}
		nf := float64(n)
		if pr.lowCost(g, n, w.levelled, w.pbs, w.ks) > best.cost {
			return
		}
		ks1Cost := pr.ks(g, n, 0)
		ms := modulusSwitchVarianceScaled(n, g.msScale)
		var ok bool
		if global {
			ok = cs.feasibleGlobal(0, 0, ms) && cs.reachableGlobal(nf*lastBR, g.floor[n-minN])
		} else {
			ok = feasibleGeneral(cons, 0, 0, ms) && reachableGeneral(cons, nf*lastBR, g.floor[n-minN])
		}
		if !ok {
			return
		}
		if least := kN * ksl[len(ksl)-1].variance; global && !cs.feasibleGlobal(nf*lastBR, least, ms) ||
			!global && !feasibleGeneral(cons, nf*lastBR, least, ms) {
			continue
		}
		jHi := len(ksl) - 1
		for i, br := range g.br {
			pbs := pr.boot(g, n, i)
			if w.cost(lev, pbs, ks1Cost) > best.cost {
				break
			}
			nCMux := nf * br.variance
			if ks := kN * ksl[jHi].variance; global && !cs.feasibleGlobal(nCMux, ks, ms) ||
				!global && !feasibleGeneral(cons, nCMux, ks, ms) {
				continue
			}
			lo, hi := 0, jHi
			for lo < hi {
				mid := (lo + hi) / 2
				ks := kN * ksl[mid].variance
				if global && cs.feasibleGlobal(nCMux, ks, ms) || !global && feasibleGeneral(cons, nCMux, ks, ms) {
					hi = mid
				} else {
					lo = mid + 1
				}
			}
			jHi = lo
			ks := ksl[lo]
			c := w.cost(lev, pbs, pr.ks(g, n, lo))
			if c > best.cost || math.IsInf(c, 1) {
				continue
			}
			var r float64
			if global {
				r = cs.ratioGlobal(nCMux, kN*ks.variance, ms)
			} else {
				r = ratioGeneral(cons, nCMux, kN*ks.variance, ms)
			}
			cand := candidate{
				cost:  c,
				ratio: r,
				cmux:  br.variance,
				ks1:   ks.variance,
				lit: ParamsLiteral{GLWERank: g.k, LogPolyDegree: g.logN, LWEDimension: n,
					BRLevel: br.level, BRLogBase: br.logBase, KSLevel: ks.level, KSLogBase: ks.logBase},
				present: true,
			}
			if cand.better(*best) {
				*best = cand
			}
		}
	}
}
