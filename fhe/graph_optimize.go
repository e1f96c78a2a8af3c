package fhe

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync"
)

// graphEntry memoizes the answer to one graph.
type graphEntry struct {
	once sync.Once
	sol  GraphSolution
	err  error
}

// maxGraphRounds is the number of coordinate-descent rounds, as in Concrete's
// optimize/mod.rs (for iter in 0..=10).
const maxGraphRounds = 11

// Graph returns the cheapest sets for a circuit of several parameter partitions: one
// set per partition and one decomposition per keyswitch, of least
// [GraphSolution.Complexity] such that every decoding stays within the bound of its
// precision and the graph's PError, or such that all of them together fail with
// probability at most GlobalPError (up to a relative 1e-9, the rounding of erfc and its
// inverse), with every key at least as noisy as the security level demands.
//
// # What is exact
//
// With one partition the search is exact over the optimizer's [Space], as
// [Optimizer.Optimize] is: the same search, generalized to several decodings, outputs,
// fresh terms and a global budget, all of which keep its premise that feasibility only
// grows as a variance falls. A graph holding one TLU decoding {BR: [norm2²], Bootstrap}
// with PBS [1], KS {0→0: 1} and Levelled [sum size] gets Optimize's set.
//
// With several partitions the search is Concrete's coordinate descent
// (optimize/mod.rs optimize): partitions are re-optimized one at a time, highest first,
// for at most 11 rounds or until a round changes nothing. With PError each step is
// exact given the other partitions: it searches the partition's k, N, n and
// blind-rotation decomposition over the whole space and, for each, the cheapest
// decomposition of every keyswitch (each decoding holds one keyswitch, so they are
// independent, as Concrete's optimize_many_independant_ks says). With GlobalPError the
// keyswitches share the budget: a step re-chooses those whose decodings the partition
// changes, jointly (a multiple-choice knapsack solved on Pareto fronts, exact while a
// front holds at most 256 points), and the others keep theirs until their own
// partitions' steps. Steps never make the cost worse, but the descent may stop at a
// point that no single partition can improve while a joint move could: the result is a
// local optimum, not a proven one.
//
// The descent starts from the independent answer (each partition solved alone on the
// decodings it bootstraps or decrypts, all their terms taken as its own, as
// [Optimizer.Circuit] does) and from the shared answer (one set for every partition,
// solved exactly); with GlobalPError also from the answer at the even split
// [PErrorPerTLU](GlobalPError, total count), so the uneven split is never worse than the
// even one. Every feasible start is descended and the cheapest end point returned. When
// no start is feasible, the least infeasible one is first repaired as Concrete does
// ("optimize for feasibility only"): each step then minimizes the worst variance/bound
// instead of the cost. The search is deterministic. Once the decomposition tables
// exist, a chain of three partitions and ten decodings takes a few milliseconds with
// PError and a few tens with GlobalPError on one core (BenchmarkGraph); graphs of many
// partitions under a global budget may take a second.
//
// The cost is g.Cost: Concrete's complexity, or with [CostMS] the Timer's milliseconds,
// searched the same way (the bounds that end each scan take the least price over every
// larger n) over the sets with n ≤ k·N; the constraints are the same either way.
//
// Answers are memoized by a canonical key of the graph, its cost included. Graph is
// safe for concurrent use. Errors wrap [ErrInvalidQuery] (or [ErrUnsupportedSecurity])
// for a bad graph and [ErrNoSolution], naming the decoding that cannot be met, when the
// search finds no feasible point.
func (o *Optimizer) Graph(g Graph) (GraphSolution, error) {
	c, err := o.resolveCost(g.Cost)
	if err != nil {
		return GraphSolution{}, err
	}
	g.Cost = c
	ng, err := g.normalized()
	if err != nil {
		return GraphSolution{}, err
	}
	key := ng.key()
	o.mu.Lock()
	if o.graphs == nil {
		o.graphs = make(map[string]*graphEntry)
	}
	e, ok := o.graphs[key]
	if !ok {
		e = &graphEntry{}
		o.graphs[key] = e
	}
	o.mu.Unlock()
	e.once.Do(func() { e.sol, e.err = o.solveGraph(ng) })
	if e.err != nil {
		return GraphSolution{}, e.err
	}
	return e.sol.clone(), nil
}

// graphDecoding is one decoding as the search reads it.
type graphDecoding struct {
	br, fresh []float64
	boot      bool
	src, dst  int
	sw        int // index of its switch in graphSearch.sw; −1 for an output
}

// graphSwitch is one keyswitch of the graph with the decodings that go through it.
type graphSwitch struct {
	Switch
	count float64
	decs  []int
}

// partChoice is the macro and blind-rotation choice of one partition: t.glwe[g], n and
// t.glwe[g].br[br].
type partChoice struct{ g, n, br int }

// graphState is a point of the search: one choice per partition and, per switch, the
// index of its decomposition in t.ks[n_To − MinLWEDimension].
type graphState struct {
	parts []partChoice
	ks    []int
}

func (s graphState) clone() graphState {
	return graphState{parts: slices.Clone(s.parts), ks: slices.Clone(s.ks)}
}

func (s graphState) equal(o graphState) bool {
	return slices.Equal(s.parts, o.parts) && slices.Equal(s.ks, o.ks)
}

// graphEval is what the search knows of a state: its cost, how it meets the
// constraints (ratio: the constraint set's measure, worst: the largest variance/bound at
// the per-decoding bounds) and whether it is feasible.
type graphEval struct {
	cost, ratio, worst float64
	feasible           bool
}

// graphSearch holds one graph's problem and the scratch space of its search. It serves
// one solve at a time.
type graphSearch struct {
	g  Graph // normalized
	t  *decompositionTables
	pr *pricing // the objective's prices
	// report prices the answer in milliseconds (direct), nil without a Timer.
	report *pricing
	parts  int
	decs   []graphDecoding
	sw     []graphSwitch
	swIdx  map[Switch]int
	// cs holds one constraint per decoding: its bound (at the per-decoding target), and
	// for a global budget limit, count, accept and reject.
	cs    constraintSet
	pEven float64 // per-decoding target: PError, or the even split of GlobalPError
	// global and budget: a global target, −ln(1 − GlobalPError)·(1 + globalSlack).
	global bool
	budget float64
	// evenBound is each decoding's bound at pEven, as reported.
	evenBound []float64
	pbs, lev  []float64
	// ksFloor[j] is the least keyswitch variance per coefficient over every n ≥
	// MinLWEDimension + j (+Inf where none is secure).
	ksFloor []float64

	// Terms of the point being evaluated, per partition and per switch; gi is each
	// partition's index in t.glwe.
	kN, n, gi      []int
	vBR, vFresh    []float64
	ms, pbsCost    []float64
	choice         []int
	vs             []float64 // per decoding
	pre, fr, msDec []float64 // per decoding: Σ BR·V_BR, Σ Fresh·V_fresh, V_MS of its Dst
	vsLeast        []float64 // per decoding: variance with least noisy switches (stepCost)
	act            []int     // active decodings (scope)
	swAct          []bool    // active switches (scope)
	order          []glweOrder

	// chooseGlobal's memo and scratch space.
	lossMemo   [][]memoLoss   // per switch and entry: budget share
	outMemo    []memoLoss     // per output decoding: budget share
	gen        uint64         // generation of the memos, raised by resetLoss
	swGen      []uint64       // per switch: the generation its memo is valid for
	outGen     []uint64       // per decoding: likewise for outputs
	minE, minC []float64      // suffix sums of least share and least cost
	costRow    []float64      // one switch's costs per entry
	fronts     [][]frontPoint // Pareto fronts after each switch
	actSw      []int          // the active switches
}

// solveGraph answers a normalized graph.
func (o *Optimizer) solveGraph(g Graph) (GraphSolution, error) {
	w, err := o.newGraphSearch(g)
	if err != nil {
		return GraphSolution{}, err
	}
	if err := w.precheck(); err != nil {
		return GraphSolution{}, err
	}
	sol, err := w.solve(o)
	if bad := w.pr.failed(); err == nil && bad != nil {
		err = fmt.Errorf("fhe: graph: %w", bad)
	}
	return sol, err
}

// solve runs the search of a prechecked graph.
func (w *graphSearch) solve(o *Optimizer) (GraphSolution, error) {
	g := w.g
	if g.Partitions == 1 {
		return w.solveOne()
	}
	var starts []graphState
	if w.pr.ms != nil {
		// Concrete's answer (least complexity) is a start too, so that the milliseconds
		// descent never ends above what Concrete's choice costs in milliseconds.
		cg := g
		cg.Cost = CostComplexity
		if sol, err := o.Graph(cg); err == nil {
			if st, ok := w.stateOf(sol); ok {
				starts = append(starts, st)
			}
		}
	}
	if w.global {
		// The answer at the even split is feasible for the budget: the uneven split
		// starts from it and can only do better.
		even := g
		even.PError, even.GlobalPError = w.pEven, 0
		if sol, err := o.Graph(even); err == nil {
			if st, ok := w.stateOf(sol); ok {
				starts = append(starts, st)
			}
		}
	}
	if st, ok := w.independentStart(); ok {
		starts = append(starts, st)
	}
	if st, ok := w.sharedStart(); ok {
		starts = append(starts, st)
	}
	// Descend from every feasible start; repair (minimize the worst variance/bound)
	// only when none is feasible, from the least infeasible one.
	var best, leastBad graphState
	var bestEv, leastBadEv graphEval
	found, seen := false, false
	var done []graphState
	for _, st := range starts {
		if slices.ContainsFunc(done, st.equal) {
			continue
		}
		done = append(done, st)
		ev0 := w.evaluate(st)
		if !ev0.feasible {
			if !seen || ev0.worst < leastBadEv.worst {
				leastBad, leastBadEv, seen = st, ev0, true
			}
			continue
		}
		st, ev := w.descend(st)
		if !found || ev.better(bestEv) {
			best, bestEv, found = st, ev, true
		}
	}
	if !found {
		if !seen {
			leastBad = w.cheapestState()
		}
		st, ev := w.descend(leastBad)
		if !ev.feasible {
			return GraphSolution{}, w.noSolution(st)
		}
		best = st
	}
	return w.solution(best)
}

// newGraphSearch prepares the search of a normalized graph.
func (o *Optimizer) newGraphSearch(g Graph) (*graphSearch, error) {
	pr, err := o.pricing(g.Cost, g.Security)
	if err != nil {
		return nil, err
	}
	t := pr.t
	if len(t.glwe) == 0 {
		return nil, fmt.Errorf("%w: the search space holds no secure (k, N) at %d bits", ErrNoSolution, g.Security)
	}
	p := g.Partitions
	w := &graphSearch{g: g, t: t, pr: pr, parts: p, swIdx: make(map[Switch]int)}
	if o.timer != nil {
		if w.report, err = o.pricing(CostMS, g.Security); err != nil {
			return nil, err
		}
		w.report.direct = true
	}
	for _, s := range sortedSwitches(g.KS) {
		w.swIdx[s] = len(w.sw)
		w.sw = append(w.sw, graphSwitch{Switch: s, count: float64(g.KS[s])})
	}
	total := 0
	for _, d := range g.Decodings {
		total += d.Count
	}
	w.pEven = g.PError
	if g.GlobalPError != 0 {
		w.pEven = PErrorPerTLU(g.GlobalPError, total)
		w.global = true
		w.budget = -math.Log1p(-g.GlobalPError) * (1 + globalSlack)
		w.cs.global, w.cs.budget = true, w.budget
	}
	w.decs = make([]graphDecoding, len(g.Decodings))
	w.cs.list = make([]constraint, len(g.Decodings))
	for i, d := range g.Decodings {
		gd := graphDecoding{br: d.BR, fresh: d.Fresh, boot: d.Bootstrap, src: d.Src, dst: d.Dst, sw: -1}
		if d.Bootstrap {
			gd.sw = w.swIdx[Switch{d.Src, d.Dst}]
			w.sw[gd.sw].decs = append(w.sw[gd.sw].decs, i)
		}
		w.decs[i] = gd
		w.cs.list[i] = w.decodingConstraint(d, 1)
		w.evenBound = append(w.evenBound, VarianceBound(d.Precision, w.pEven))
	}
	w.pbs = make([]float64, p)
	for i, c := range g.PBS {
		w.pbs[i] = float64(c)
	}
	w.lev = g.Levelled
	w.ksFloor = make([]float64, len(t.ks))
	low := math.Inf(1)
	for j := len(t.ks) - 1; j >= 0; j-- {
		if ksl := t.ks[j]; ksl != nil {
			low = min(low, ksl[len(ksl)-1].variance)
		}
		w.ksFloor[j] = low
	}
	w.kN, w.n, w.gi, w.choice = make([]int, p), make([]int, p), make([]int, p), make([]int, len(w.sw))
	w.vBR, w.vFresh, w.ms, w.pbsCost = make([]float64, p), make([]float64, p), make([]float64, p), make([]float64, p)
	nd := len(w.decs)
	w.vs, w.pre, w.fr, w.msDec = make([]float64, nd), make([]float64, nd), make([]float64, nd), make([]float64, nd)
	w.vsLeast = make([]float64, nd)
	w.swAct = make([]bool, len(w.sw))
	w.lossMemo = make([][]memoLoss, len(w.sw))
	for i := range w.lossMemo {
		w.lossMemo[i] = make([]memoLoss, logQ+1)
	}
	w.outMemo, w.outGen, w.swGen = make([]memoLoss, nd), make([]uint64, nd), make([]uint64, len(w.sw))
	w.gen = 1 // memos start invalid (gen 0)
	for i := range w.outGen {
		w.outGen[i] = 1
	}
	for i := range w.swGen {
		w.swGen[i] = 1
	}
	w.minE, w.minC = make([]float64, len(w.sw)+1), make([]float64, len(w.sw)+1)
	w.costRow, w.fronts = make([]float64, logQ+1), make([][]frontPoint, len(w.sw)+1)
	return w, nil
}

// precheck returns ErrNoSolution for a decoding that no point can meet: its variance
// with every term at its least over the whole space, each term on its own (the least
// bootstrap output, fresh encryption, keyswitch and modulus switch of any set), is
// beyond its bound (with a global budget, beyond the variance at which it alone takes
// the whole budget).
func (w *graphSearch) precheck() error {
	t := w.t
	minN := t.space.MinLWEDimension
	n := minN
	for n <= t.space.MaxLWEDimension && t.ks[n-minN] == nil {
		n++
	}
	if n > t.space.MaxLWEDimension {
		return fmt.Errorf("%w: the search space holds no secure n at %d bits", ErrNoSolution, w.g.Security)
	}
	br, fresh, ms, kN := math.Inf(1), math.Inf(1), math.Inf(1), math.MaxInt
	for i := range t.glwe {
		g := &t.glwe[i]
		br = min(br, float64(n)*g.br[len(g.br)-1].variance)
		fresh = min(fresh, g.vBSK)
		ms = min(ms, modulusSwitchVarianceScaled(n, g.msScale))
		kN = min(kN, g.kN)
	}
	ks := float64(kN) * w.ksFloor[n-minN]
	for d := range w.decs {
		dd := &w.decs[d]
		v := 0.0
		for _, c := range dd.br {
			v += c * br
		}
		for _, c := range dd.fresh {
			v += c * fresh
		}
		if dd.boot {
			v += ks + ms
		}
		capV := w.cs.list[d].bound
		if w.global {
			capV = w.soloBound(d)
		}
		if v > capV*boundSlack {
			dec := w.g.Decodings[d]
			return &DecodingError{Index: d, Name: dec.Name, Why: fmt.Sprintf(", precision %d): even its least conceivable variance is %.3g times what its target allows (%s, %d bits)",
				dec.Precision, v/capV, w.target(), w.g.Security)}
		}
	}
	return nil
}

// soloBound returns the variance at which decoding d alone would take the whole global
// budget, widened by 1e-6 for rounding.
func (w *graphSearch) soloBound(d int) float64 {
	dec := w.g.Decodings[d]
	return VarianceBound(dec.Precision, -math.Expm1(-w.budget/float64(dec.Count))) * (1 + 1e-6)
}

// target describes the graph's error target for messages.
func (w *graphSearch) target() string {
	if w.global {
		return fmt.Sprintf("global_p_error %g", w.g.GlobalPError)
	}
	return fmt.Sprintf("p_error %g", w.g.PError)
}

// decodingConstraint returns the constraint of one decoding with every coefficient
// merged onto one set (f = Σ BR, fresh = Σ Fresh), its bound scaled by margin (the
// budget fast paths too).
func (w *graphSearch) decodingConstraint(d Decoding, margin float64) constraint {
	c := constraint{output: !d.Bootstrap, limit: noiseLimit(d.Precision), count: float64(d.Count)}
	for j := range d.BR {
		c.f += d.BR[j]
		c.fresh += d.Fresh[j]
	}
	c.bound = VarianceBound(d.Precision, w.pEven) * margin
	if w.cs.global {
		c.accept = c.bound
		budget := w.budget * margin
		c.reject = VarianceBound(d.Precision, -math.Expm1(-budget/c.count)) * (1 + 1e-6)
	}
	return c
}

// ---- one partition: the exact search ----

// solveOne answers a graph of one partition with the exact search of optimizer.go.
func (w *graphSearch) solveOne() (GraphSolution, error) {
	cs := &constraintSet{list: slices.Clone(w.cs.list), global: w.cs.global, budget: w.cs.budget}
	for i := range cs.list {
		cs.fresh = cs.fresh || cs.list[i].fresh != 0
	}
	obj := objective{levelled: w.lev[0], pbs: w.pbs[0]}
	if i, ok := w.swIdx[Switch{0, 0}]; ok {
		obj.ks = w.sw[i].count
	}
	lit, ok := w.exact(cs, obj)
	if !ok {
		// Name the decoding furthest from its bound at the least noisy point.
		st := w.cheapestState()
		ev := w.evaluate(st)
		w.stepRepair(&st, 0, &ev)
		return GraphSolution{}, w.noSolution(st)
	}
	st, ok := w.stateOfLiteral([]ParamsLiteral{lit})
	if !ok {
		return GraphSolution{}, fmt.Errorf("fhe: graph: set %v outside the decomposition tables", lit)
	}
	// Keep the search's own keyswitch (the same entry up to the rounding of the budget's
	// fast paths).
	if s, ok := w.swIdx[Switch{0, 0}]; ok {
		ksl := w.t.ks[lit.LWEDimension-w.t.space.MinLWEDimension]
		if j := slices.IndexFunc(ksl, func(d decomposition) bool { return d.level == lit.KSLevel && d.logBase == lit.KSLogBase }); j >= 0 {
			st.ks[s] = j
		}
	}
	return w.solution(st)
}

// exact runs the exact search of one set over the whole space.
func (w *graphSearch) exact(cs *constraintSet, obj objective) (ParamsLiteral, bool) {
	best := noCandidate()
	for _, g := range w.t.byObjective(w.pr, obj) {
		if g.lowerBound > best.cost {
			break
		}
		w.t.searchSet(g.glwe, w.pr, cs, obj, &best)
	}
	return best.lit, best.present
}

// ---- starting points ----

// independentStart solves each partition alone on the decodings it owns (bootstraps, or
// decrypts for an output), every term taken as its own, at the per-decoding target: the
// independent per-group answer of Optimizer.Circuit. A partition that owns none takes
// the cheapest set.
func (w *graphSearch) independentStart() (graphState, bool) {
	lits := make([]ParamsLiteral, w.parts)
	for p := range w.parts {
		cs := &constraintSet{}
		for _, d := range w.g.Decodings {
			if d.Dst == p { // an output's Dst is its Src (normalized)
				c := w.decodingConstraint(d, 1)
				c.accept, c.reject = 0, 0
				cs.list = append(cs.list, c)
				cs.fresh = cs.fresh || c.fresh != 0
			}
		}
		obj := objective{levelled: w.lev[p], pbs: w.pbs[p]}
		for _, s := range w.sw {
			if s.To == p {
				obj.ks += s.count
			}
		}
		lit, ok := w.exact(cs, obj)
		if !ok {
			return graphState{}, false
		}
		lits[p] = lit
	}
	return w.stateOfLiteral(lits)
}

// sharedStart solves the graph with one set for every partition, exactly (the
// constraints merged onto one set, bounds narrowed by 1e-9 so that the per-partition
// sums, rounded in another order, also hold).
func (w *graphSearch) sharedStart() (graphState, bool) {
	const margin = 1 - 1e-9
	cs := &constraintSet{global: w.cs.global, budget: w.cs.budget * margin}
	obj := objective{}
	for _, d := range w.g.Decodings {
		c := w.decodingConstraint(d, margin)
		cs.list = append(cs.list, c)
		cs.fresh = cs.fresh || c.fresh != 0
	}
	for p := range w.parts {
		obj.levelled += w.lev[p]
		obj.pbs += w.pbs[p]
	}
	for _, s := range w.sw {
		obj.ks += s.count
	}
	lit, ok := w.exact(cs, obj)
	if !ok {
		return graphState{}, false
	}
	lits := make([]ParamsLiteral, w.parts)
	for p := range lits {
		lits[p] = lit
	}
	return w.stateOfLiteral(lits)
}

// cheapestState puts every partition on the cheapest point of the first (k, N) (the
// first the pricing may search at that n): a start for the repair steps when nothing
// else exists.
func (w *graphSearch) cheapestState() graphState {
	st := graphState{parts: make([]partChoice, w.parts), ks: make([]int, len(w.sw))}
	n := w.t.space.MinLWEDimension
	for n <= w.t.space.MaxLWEDimension && w.t.ks[n-w.t.space.MinLWEDimension] == nil {
		n++
	}
	gi := 0
	for gi < len(w.t.glwe)-1 && w.pr.nMax(&w.t.glwe[gi]) < n {
		gi++
	}
	for p := range st.parts {
		st.parts[p] = partChoice{g: gi, n: n, br: 0}
	}
	return st
}

// stateOfLiteral maps sets of the decomposition tables to a state, with the cheapest
// feasible keyswitches for them (or the least noisy ones if none is feasible); false
// when a set is not one the search visits (with milliseconds, n > k·N).
func (w *graphSearch) stateOfLiteral(lits []ParamsLiteral) (graphState, bool) {
	st := graphState{parts: make([]partChoice, w.parts), ks: make([]int, len(w.sw))}
	minN := w.t.space.MinLWEDimension
	for p, lit := range lits {
		gi := slices.IndexFunc(w.t.glwe, func(g glweTable) bool { return g.k == lit.GLWERank && g.logN == lit.LogPolyDegree })
		if gi < 0 || lit.LWEDimension < minN || lit.LWEDimension > w.pr.nMax(&w.t.glwe[gi]) || w.t.ks[lit.LWEDimension-minN] == nil {
			return graphState{}, false
		}
		bi := slices.IndexFunc(w.t.glwe[gi].br, func(d decomposition) bool { return d.level == lit.BRLevel && d.logBase == lit.BRLogBase })
		if bi < 0 {
			return graphState{}, false
		}
		st.parts[p] = partChoice{g: gi, n: lit.LWEDimension, br: bi}
	}
	w.load(st)
	w.scope(-1)
	w.prepare(true)
	w.resetLoss()
	if !w.chooseSwitches(math.Inf(1)) {
		w.leastSwitches()
	}
	copy(st.ks, w.choice)
	return st, true
}

// stateOf maps a solution of the same graph (another target) to a state.
func (w *graphSearch) stateOf(sol GraphSolution) (graphState, bool) {
	lits := make([]ParamsLiteral, len(sol.Partitions))
	for p, s := range sol.Partitions {
		lits[p] = s.Literal()
	}
	return w.stateOfLiteral(lits)
}

// ---- evaluation ----

// load sets the terms of every partition from st (switch choices excluded).
func (w *graphSearch) load(st graphState) {
	for p, c := range st.parts {
		w.setPart(p, c)
	}
}

// setPart sets partition p's terms for choice c.
func (w *graphSearch) setPart(p int, c partChoice) {
	g := &w.t.glwe[c.g]
	w.kN[p], w.n[p], w.gi[p] = g.kN, c.n, c.g
	nf := float64(c.n)
	w.vBR[p] = nf * g.br[c.br].variance
	w.pbsCost[p] = w.pr.boot(g, c.n, c.br)
	w.vFresh[p] = g.vBSK
	w.ms[p] = modulusSwitchVarianceScaled(c.n, g.msScale)
}

// ksList returns the keyswitch decompositions of switch s at the loaded point.
func (w *graphSearch) ksList(s int) []decomposition {
	return w.t.ks[w.n[w.sw[s].To]-w.t.space.MinLWEDimension]
}

// ksVariance returns switch s's variance at decomposition j: k·N of its source times
// the variance per coefficient, as KeySwitchBetween computes it.
func (w *graphSearch) ksVariance(s, j int) float64 {
	return float64(w.kN[w.sw[s].From]) * w.ksList(s)[j].variance
}

// ksLeast returns switch s's least variance at the loaded point.
func (w *graphSearch) ksLeast(s int) float64 {
	l := w.ksList(s)
	return float64(w.kN[w.sw[s].From]) * l[len(l)-1].variance
}

// ksCost returns the price of one keyswitch of switch s at decomposition j.
func (w *graphSearch) ksCost(s, j int) float64 { return w.ksPrice(w.pr, s, j) }

// ksPrice returns pr's price of one keyswitch of switch s at decomposition j: the
// atomic pattern's keyswitch for s→s, a keyswitch between keys otherwise.
func (w *graphSearch) ksPrice(pr *pricing, s, j int) float64 {
	sw := &w.sw[s]
	if sw.From == sw.To {
		return pr.ks(&w.t.glwe[w.gi[sw.To]], w.n[sw.To], j)
	}
	return pr.between(&w.t.glwe[w.gi[sw.From]], w.n[sw.To], j)
}

// ksLevel1 returns the price of one keyswitch of switch s at level 1, its cheapest.
func (w *graphSearch) ksLevel1(s int) float64 {
	if w.pr.ms == nil {
		sw := &w.sw[s]
		return keySwitchComplexity(w.kN[sw.From], w.n[sw.To], 1)
	}
	return w.ksCost(s, 0)
}

// scope makes the next operations work on what partition p changes: the decodings
// whose variance depends on p's terms (act), and the switches whose choice may (swAct:
// from or to p, or read by such a decoding). p < 0 makes everything active.
func (w *graphSearch) scope(p int) {
	w.act = w.act[:0]
	for d := range w.decs {
		dd := &w.decs[d]
		if p < 0 || dd.br[p] != 0 || dd.fresh[p] != 0 || dd.boot && (dd.src == p || dd.dst == p) {
			w.act = append(w.act, d)
		}
	}
	for s := range w.sw {
		sw := &w.sw[s]
		a := p < 0 || sw.From == p || sw.To == p
		for _, d := range sw.decs {
			a = a || w.decs[d].br[p] != 0 || w.decs[d].fresh[p] != 0
		}
		w.swAct[s] = a
	}
}

// prepare computes the active decodings' terms other than their keyswitch at the
// loaded point: Σ BR·V_BR (pre), Σ Fresh·V_fresh (fr, with fresh) and V_MS of Dst.
func (w *graphSearch) prepare(fresh bool) {
	for _, d := range w.act {
		dd := &w.decs[d]
		v := 0.0
		for p, c := range dd.br {
			v += c * w.vBR[p]
		}
		w.pre[d] = v
		if dd.boot {
			w.msDec[d] = w.ms[dd.dst]
		}
		if fresh {
			fr := 0.0
			for p, c := range dd.fresh {
				fr += c * w.vFresh[p]
			}
			w.fr[d] = fr
		}
	}
}

// variance is a decoding's variance with keyswitch variance ks, the one formula of
// the graph search and its answers:
//
//	((Σ BR·V_BR + V_KS) + V_MS) + Σ Fresh·V_fresh
//
// With one partition it is constraint.variance to the last bit.
func (w *graphSearch) variance(d int, ks float64) float64 {
	if !w.decs[d].boot {
		return w.pre[d] + w.fr[d]
	}
	return w.pre[d] + ks + w.msDec[d] + w.fr[d]
}

// computeVariances fills w.vs for the active decodings at the loaded point with the
// switch choices w.choice.
func (w *graphSearch) computeVariances() {
	for _, d := range w.act {
		ks := 0.0
		if s := w.decs[d].sw; s >= 0 {
			ks = w.ksVariance(s, w.choice[s])
		}
		w.vs[d] = w.variance(d, ks)
	}
}

// allVariances fills w.vs for every decoding (prepared, active or not) with the switch
// choices w.choice.
func (w *graphSearch) allVariances() {
	for d := range w.decs {
		ks := 0.0
		if s := w.decs[d].sw; s >= 0 {
			ks = w.ksVariance(s, w.choice[s])
		}
		w.vs[d] = w.variance(d, ks)
	}
}

// leastVariances fills w.vs for the active decodings with every switch at its least
// noisy decomposition.
func (w *graphSearch) leastVariances() {
	for _, d := range w.act {
		ks := 0.0
		if s := w.decs[d].sw; s >= 0 {
			ks = w.ksLeast(s)
		}
		w.vs[d] = w.variance(d, ks)
	}
}

// cost returns the objective of the loaded point with the switch choices w.choice:
// Σ PBS·bootstrap, then Σ KS·keyswitch, then Σ Levelled·multiply-add (complexity:
// PBSComplexity, keyswitch complexity, kN).
func (w *graphSearch) cost() float64 {
	c := 0.0
	for p := range w.parts {
		c += w.pbs[p] * w.pbsCost[p]
	}
	for s := range w.sw {
		c += w.sw[s].count * w.ksCost(s, w.choice[s])
	}
	for p := range w.parts {
		c += w.lev[p] * w.pr.lev(&w.t.glwe[w.gi[p]])
	}
	return c
}

// priceState returns the cost of the loaded state st, with the switch choices
// w.choice, at pr's prices, summed as cost sums.
func (w *graphSearch) priceState(st graphState, pr *pricing) float64 {
	c := 0.0
	for p, pc := range st.parts {
		c += w.pbs[p] * pr.boot(&w.t.glwe[pc.g], pc.n, pc.br)
	}
	for s := range w.sw {
		c += w.sw[s].count * w.ksPrice(pr, s, w.choice[s])
	}
	for p, pc := range st.parts {
		c += w.lev[p] * pr.lev(&w.t.glwe[pc.g])
	}
	return c
}

// evaluate loads st (its switch choices included) and returns its evaluation, leaving
// every decoding active.
func (w *graphSearch) evaluate(st graphState) graphEval {
	w.load(st)
	w.scope(-1)
	w.prepare(true)
	copy(w.choice, st.ks)
	w.computeVariances()
	return w.measure(w.cost())
}

// measure evaluates the variances in w.vs with the given cost.
func (w *graphSearch) measure(cost float64) graphEval {
	ev := graphEval{cost: cost, feasible: w.cs.feasibleVariances(w.vs)}
	ev.ratio = w.cs.ratioVariances(w.vs)
	for d := range w.decs {
		ev.worst = max(ev.worst, w.vs[d]/w.cs.list[d].bound)
	}
	return ev
}

// leastSwitches chooses every switch's least noisy decomposition.
func (w *graphSearch) leastSwitches() {
	for s := range w.sw {
		w.choice[s] = len(w.ksList(s)) - 1
	}
}

// ---- keyswitch choice at a fixed point ----

// chooseSwitches picks the cheapest decomposition of the active switches that keeps the
// constraints at the loaded point (active decodings prepared, the others as they are),
// into w.choice, and reports whether one exists. With per-decoding bounds every switch
// is independent, since a decoding holds one keyswitch (Concrete's
// optimize_many_independant_ks): the smallest feasible entry of its Pareto list, by
// bisection. With a global budget the switches share it (chooseGlobal); costCut bounds
// the active switches' total cost (Σ count·complexity) worth finding.
func (w *graphSearch) chooseSwitches(costCut float64) bool {
	if w.cs.global {
		return w.chooseGlobal(costCut)
	}
	for _, d := range w.act {
		if w.decs[d].sw < 0 && w.variance(d, 0) > w.cs.list[d].bound {
			return false
		}
	}
	for s := range w.sw {
		if !w.swAct[s] {
			continue
		}
		if len(w.sw[s].decs) == 0 {
			w.choice[s] = 0 // no decoding reads it: the cheapest
			continue
		}
		lo, hi := 0, len(w.ksList(s))-1
		if !w.switchOK(s, hi) {
			return false
		}
		for lo < hi {
			mid := (lo + hi) / 2
			if w.switchOK(s, mid) {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		w.choice[s] = lo
	}
	return true
}

// switchOK reports whether every decoding through switch s keeps its bound with
// decomposition j.
func (w *graphSearch) switchOK(s, j int) bool {
	ks := w.ksVariance(s, j)
	for _, d := range w.sw[s].decs {
		if w.variance(d, ks) > w.cs.list[d].bound {
			return false
		}
	}
	return true
}

// minEntry returns the smallest entry of switch s whose decodings all stay within
// their caps at the prepared terms (their bounds, or with a global budget the variance
// at which one decoding alone takes all of it), −1 if none: no feasible choice of s at
// these terms, or at smaller ones, uses an earlier entry.
func (w *graphSearch) minEntry(s int) int {
	if len(w.sw[s].decs) == 0 {
		return 0
	}
	ok := func(j int) bool {
		ks := w.ksVariance(s, j)
		for _, d := range w.sw[s].decs {
			c := &w.cs.list[d]
			capV := c.bound
			if w.cs.global {
				capV = c.reject
			}
			if w.variance(d, ks) > capV {
				return false
			}
		}
		return true
	}
	lo, hi := 0, len(w.ksList(s))-1
	if !ok(hi) {
		return -1
	}
	for lo < hi {
		mid := (lo + hi) / 2
		if ok(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// resetLoss forgets the budget shares of the active switches and outputs.
func (w *graphSearch) resetLoss() {
	w.gen++
	for s := range w.sw {
		if w.swAct[s] {
			w.swGen[s] = w.gen
		}
	}
	for _, d := range w.act {
		if w.decs[d].sw < 0 {
			w.outGen[d] = w.gen
		}
	}
}

// loss returns the budget share of the decodings through switch s at entry j,
// memoized until resetLoss.
func (w *graphSearch) loss(s, j int) float64 {
	if m := &w.lossMemo[s][j]; m.gen == w.swGen[s] {
		return m.e
	}
	ks := w.ksVariance(s, j)
	e := 0.0
	for _, d := range w.sw[s].decs {
		e += w.cs.list[d].loss(w.variance(d, ks))
	}
	w.lossMemo[s][j] = memoLoss{e: e, gen: w.swGen[s]}
	return e
}

// outLoss returns the budget share of output decoding d (no keyswitch), memoized until
// resetLoss.
func (w *graphSearch) outLoss(d int) float64 {
	if m := &w.outMemo[d]; m.gen == w.outGen[d] {
		return m.e
	}
	e := w.cs.list[d].loss(w.variance(d, 0))
	w.outMemo[d] = memoLoss{e: e, gen: w.outGen[d]}
	return e
}

// memoLoss is a memoized budget share, valid while gen is its owner's generation.
type memoLoss struct {
	e   float64
	gen uint64
}

// maxFront bounds the Pareto fronts of chooseGlobal.
const maxFront = 256

// chooseGlobal is chooseSwitches with a global budget. The decodings through switch s
// take E_s(j) = Σ count·(−ln(1 − p_d)) at entry j, the others E_0; it minimizes
// Σ_s count_s·cost_s(j_s) over the active switches, the others keeping their entry,
// subject to E_0 + Σ_s E_s(j_s) ≤ budget (a multiple-choice knapsack), by dynamic
// programming over the switches: after each one only the Pareto front of (cost, share)
// of the choices so far is kept (a dominated partial choice has no better completion
// than its dominator), cut by the least cost and share of the switches left and by
// costCut. This is exact while every front holds at most maxFront points; a longer one
// is thinned to maxFront points evenly spread along it, the cheapest and the least
// noisy kept.
func (w *graphSearch) chooseGlobal(costCut float64) bool {
	e0 := 0.0
	for d := range w.decs {
		if w.decs[d].sw < 0 {
			e0 += w.outLoss(d)
		}
	}
	act := w.actSw[:0]
	for s := range w.sw {
		if w.swAct[s] {
			act = append(act, s)
		} else {
			e0 += w.loss(s, w.choice[s])
		}
	}
	w.actSw = act
	budget := w.cs.budget
	if e0 > budget {
		return false
	}
	na := len(act)
	minE, minC := w.minE[:na+1], w.minC[:na+1]
	minE[na], minC[na] = 0, 0
	for k := na - 1; k >= 0; k-- {
		s := act[k]
		minC[k] = minC[k+1] + w.sw[s].count*w.ksCost(s, 0)
	}
	if minC[0] > costCut {
		return false
	}
	for k := na - 1; k >= 0; k-- {
		s := act[k]
		minE[k] = minE[k+1] + w.loss(s, len(w.ksList(s))-1)
	}
	if e0+minE[0] > budget {
		return false
	}
	avail := budget - e0
	prev := append(w.fronts[0][:0], frontPoint{parent: -1})
	w.fronts[0] = prev
	for k, s := range act {
		l := len(w.ksList(s))
		costs := w.costRow[:l]
		for j := range costs {
			costs[j] = w.sw[s].count * w.ksCost(s, j)
		}
		next := w.fronts[k+1][:0]
		for fi, f := range prev {
			// The first entry within the budget, by bisection: the share falls with j.
			fits := func(j int) bool { return f.e+w.loss(s, j)+minE[k+1] <= avail }
			lo, hi := 0, l-1
			if !fits(hi) {
				continue
			}
			for lo < hi {
				if mid := (lo + hi) / 2; fits(mid) {
					hi = mid
				} else {
					lo = mid + 1
				}
			}
			for j := lo; j < l; j++ {
				c := f.c + costs[j]
				if c+minC[k+1] > costCut {
					break // the cost grows with j
				}
				e := f.e + w.loss(s, j)
				if e+minE[k+1] > avail {
					continue
				}
				next = append(next, frontPoint{c: c, e: e, parent: int32(fi), j: int32(j)})
			}
		}
		slices.SortFunc(next, func(a, b frontPoint) int {
			if a.c != b.c {
				return cmp.Compare(a.c, b.c)
			}
			return cmp.Compare(a.e, b.e)
		})
		front := next[:0]
		least := math.Inf(1)
		for _, x := range next {
			if x.e < least {
				front = append(front, x)
				least = x.e
			}
		}
		if n := len(front); n > maxFront {
			for i := range maxFront {
				front[i] = front[i*(n-1)/(maxFront-1)]
			}
			front = front[:maxFront]
		}
		w.fronts[k+1] = front
		if len(front) == 0 {
			return false
		}
		prev = front
	}
	// The cheapest complete choice is the first of the last front.
	for k, i := na, 0; k > 0; k-- {
		x := w.fronts[k][i]
		w.choice[act[k-1]] = int(x.j)
		i = int(x.parent)
	}
	return true
}

// frontPoint is a choice of the first active switches in chooseGlobal: its cost and
// budget share, and its last entry j with the index of the rest in the previous front.
type frontPoint struct {
	c, e      float64
	parent, j int32
}

// ---- coordinate descent ----

// descend runs the coordinate descent from st: rounds over the partitions, highest
// first, each re-optimized with the others fixed (for cost when the point is feasible,
// for the worst variance/bound when not), until a round changes nothing or after
// maxGraphRounds rounds.
func (w *graphSearch) descend(st graphState) (graphState, graphEval) {
	st = st.clone()
	ev := w.evaluate(st)
	for range maxGraphRounds {
		changed := false
		for p := w.parts - 1; p >= 0; p-- {
			var c bool
			if ev.feasible {
				c = w.stepCost(&st, p, &ev)
			} else {
				c = w.stepRepair(&st, p, &ev)
			}
			changed = changed || c
		}
		if !changed {
			break
		}
	}
	return st, ev
}

// better reports whether evaluation a is strictly better than b: cheaper, or as cheap
// with more headroom.
func (a graphEval) better(b graphEval) bool {
	return a.cost < b.cost || a.cost == b.cost && a.ratio < b.ratio
}

// stepCost re-optimizes partition p of the feasible point st for cost, every other
// partition fixed, with every switch's cheapest feasible entry (with a global budget:
// the active switches chosen together, the others kept): exact over p's k, N, n and
// blind-rotation decomposition. It rests on the facts searchGLWE uses, for one
// partition among several:
//   - a lower bound of the cost with p at each (k, N) (smallest n, first blind-rotation
//     level, every keyswitch at level 1) orders the (k, N) and ends the search;
//   - for fixed levels the cost grows with n (p's bootstraps, the keyswitches into p), so
//     once the cheapest levels at n cost more than the best point, no larger n does
//     better;
//   - p's blind-rotation and modulus-switch variances grow with n and a keyswitch into p
//     is at least kN·ksFloor[n], so once these lower bounds break the constraints, no
//     larger n is feasible;
//   - at fixed n the blind-rotation levels come in increasing cost and decreasing
//     variance; once every active switch sits on its cheapest entry a higher level only
//     costs more;
//   - no switch can use an entry below the first within the caps at p's least noisy
//     blind rotation (minEntry), which bounds the cost at n from below.
//
// Only the decodings and switches that p touches are recomputed (scope).
func (w *graphSearch) stepCost(st *graphState, p int, cur *graphEval) bool {
	t := w.t
	minN := t.space.MinLWEDimension
	// Everything at the current point; then the switches that p cannot change keep the
	// cheapest choice there, and the other decodings their variance (with least noisy
	// switches, for the lower bounds).
	w.evaluate(*st)
	w.resetLoss()
	if !w.cs.global && !w.chooseSwitches(math.Inf(1)) {
		return false // cannot happen: st is feasible
	}
	w.leastVariances()
	copy(w.vsLeast, w.vs)
	w.computeVariances()
	w.scope(p)
	fixed, ksFixed, ksInactive := 0.0, 0.0, 0.0
	for q := range w.parts {
		if q != p {
			fixed += w.pbs[q]*w.pbsCost[q] + w.lev[q]*w.pr.lev(&t.glwe[w.gi[q]])
		}
	}
	// Switches that p touches cost at least level 1, and so do the other active ones;
	// the inactive ones keep their entry.
	var touch, actOther []int
	for s := range w.sw {
		sw := &w.sw[s]
		switch {
		case sw.From == p || sw.To == p:
			touch = append(touch, s)
		case w.swAct[s]:
			actOther = append(actOther, s)
			ksFixed += sw.count * w.ksLevel1(s)
		default: // keeps its entry: the cheapest feasible one, or with a global budget its own
			c := sw.count * w.ksCost(s, w.choice[s])
			ksFixed += c
			ksInactive += c
		}
	}
	// ksAt is the least cost of the switches with p at (kN, n): every level at 1 (n
	// must have keyswitch decompositions).
	ksAt := func() float64 {
		c := ksFixed
		for _, s := range touch {
			c += w.sw[s].count * w.ksLevel1(s)
		}
		return c
	}
	// low returns fixed + own (p's levelled cost) + a lower bound of p's bootstraps and
	// the switches' cost (ksAt) with p at (k, N) g and any n' ≥ n: complexity grows with
	// n, so it is their cost at n; milliseconds take the least prices over every n' ≥ n
	// (p's bootstraps and its own keyswitch together, the switches into p from other
	// partitions, and those out of p at their price, which n does not change).
	self := -1 // the index of switch p→p, if any
	for _, s := range touch {
		if w.sw[s].From == p && w.sw[s].To == p {
			self = s
		}
	}
	low := func(g *glweTable, n int, own float64) float64 {
		if w.pr.ms == nil {
			return fixed + own + w.pbs[p]*float64(n)*g.brCost[0] + ksAt()
		}
		wk := 0.0
		if self >= 0 {
			wk = w.sw[self].count
		}
		c := w.pr.atomLow(g, n, w.pbs[p], wk) + ksFixed
		for _, s := range touch {
			sw := &w.sw[s]
			switch {
			case s == self:
			case sw.To == p:
				c += sw.count * w.pr.betweenLow(&t.glwe[w.gi[sw.From]], n)
			default: // from p to a fixed n
				c += sw.count * w.ksLevel1(s)
			}
		}
		return fixed + own + c
	}
	pbsAt := func(g *glweTable, n int) float64 {
		if w.pr.ms == nil {
			return w.pbs[p] * float64(n) * g.brCost[0]
		}
		return w.pbs[p] * w.pr.boot(g, n, 0)
	}
	order := w.order[:0]
	for gi := range t.glwe {
		g := &t.glwe[gi]
		if w.pr.nMax(g) < minN {
			continue
		}
		w.kN[p], w.n[p], w.gi[p] = g.kN, minN, gi
		order = append(order, glweOrder{gi, low(g, minN, w.lev[p]*w.pr.lev(g))})
	}
	w.order = order
	slices.SortStableFunc(order, func(a, b glweOrder) int { return cmp.Compare(a.lb, b.lb) })
	best, bestEv, found := graphState{}, *cur, false
	for _, ob := range order {
		if ob.lb > bestEv.cost {
			break
		}
		gi := ob.g
		g := &t.glwe[gi]
		w.kN[p], w.vFresh[p], w.gi[p] = g.kN, g.vBSK, gi
		freshDone := false
		lastBR := g.br[len(g.br)-1].variance
		own := w.lev[p] * w.pr.lev(g)
		for n, maxN := minN, w.pr.nMax(g); n <= maxN; n++ {
			if t.ks[n-minN] == nil {
				continue
			}
			w.n[p] = n
			nf := float64(n)
			if low(g, n, own) > bestEv.cost {
				break
			}
			w.ms[p] = modulusSwitchVarianceScaled(n, g.msScale)
			w.vBR[p] = nf * lastBR
			w.prepare(!freshDone)
			freshDone = true
			// Lower bounds for every n' ≥ n: the inactive decodings at their least, the
			// active ones with p's least blind rotation at n and the keyswitches into p
			// at their floor.
			copy(w.vs, w.vsLeast)
			for _, d := range w.act {
				ks := 0.0
				if s := w.decs[d].sw; s >= 0 {
					if sw := &w.sw[s]; sw.To == p {
						ks = float64(w.kN[sw.From]) * w.ksFloor[n-minN]
					} else {
						ks = w.ksLeast(s)
					}
				}
				w.vs[d] = w.variance(d, ks) / boundSlack
			}
			if !w.cs.feasibleVariances(w.vs) {
				break
			}
			// The least noisy point at n.
			w.leastVariances()
			if !w.cs.feasibleVariances(w.vs) {
				continue
			}
			// A tighter cost bound at n: every active switch at its smallest entry
			// within the caps, given p's least noisy blind rotation.
			klbN := ksAt()
			for _, list := range [2][]int{touch, actOther} {
				for _, s := range list {
					j := w.minEntry(s)
					if j < 0 {
						klbN = math.Inf(1)
						break
					}
					klbN += w.sw[s].count * (w.ksCost(s, j) - w.ksLevel1(s))
				}
			}
			if fixed+own+pbsAt(g, n)+klbN > bestEv.cost {
				continue
			}
			klb := klbN
			for i := range g.br {
				w.pbsCost[p] = w.pr.boot(g, n, i)
				if fixed+own+w.pbs[p]*w.pbsCost[p]+klb > bestEv.cost {
					break
				}
				w.vBR[p] = nf * g.br[i].variance
				w.prepare(false)
				if w.cs.global {
					w.resetLoss()
				}
				if !w.chooseSwitches(bestEv.cost - fixed - ksInactive - own - w.pbs[p]*w.pbsCost[p]) {
					continue
				}
				if c := w.cost(); c <= bestEv.cost {
					w.allVariances()
					ev := w.measure(c)
					if ev.feasible && ev.better(bestEv) {
						if !found {
							best = graphState{parts: slices.Clone(st.parts), ks: make([]int, len(w.sw))}
						}
						best.parts[p] = partChoice{g: gi, n: n, br: i}
						copy(best.ks, w.choice)
						bestEv, found = ev, true
					}
				}
				if w.cheapestSwitches() {
					break // a higher level only adds cost
				}
			}
		}
	}
	if !found || best.equal(*st) {
		return false
	}
	*st, *cur = best, bestEv
	return true
}

// cheapestSwitches reports whether every active switch sits on its cheapest entry.
func (w *graphSearch) cheapestSwitches() bool {
	for s, j := range w.choice {
		if j > 0 && w.swAct[s] {
			return false
		}
	}
	return true
}

// glweOrder is a (k, N) of the tables with a lower bound of the cost of a step's
// points that use it.
type glweOrder struct {
	g  int
	lb float64
}

// stepRepair re-chooses partition p of an infeasible point to minimize the largest
// variance/bound over the decodings, with p's least noisy blind rotation and every
// switch at its least noisy decomposition, as Concrete does while nothing is feasible
// (optimize/mod.rs optimize_macro, "optimize for feasibility only").
func (w *graphSearch) stepRepair(st *graphState, p int, cur *graphEval) bool {
	t := w.t
	w.evaluate(*st)
	w.leastSwitches()
	w.leastVariances()
	w.scope(p)
	minN := t.space.MinLWEDimension
	best, bestWorst, found := partChoice{}, cur.worst, false
	for gi := range t.glwe {
		g := &t.glwe[gi]
		bi := len(g.br) - 1
		fresh := true
		for n, maxN := minN, w.pr.nMax(g); n <= maxN; n++ {
			if t.ks[n-minN] == nil {
				continue
			}
			w.setPart(p, partChoice{g: gi, n: n, br: bi})
			w.prepare(fresh)
			fresh = false
			w.leastVariances()
			worst := 0.0
			for d := range w.decs {
				worst = max(worst, w.vs[d]/w.cs.list[d].bound)
			}
			if worst < bestWorst {
				best, bestWorst, found = partChoice{g: gi, n: n, br: bi}, worst, true
			}
		}
	}
	if !found {
		return false
	}
	st.parts[p] = best
	w.load(*st)
	w.leastSwitches()
	copy(st.ks, w.choice)
	*cur = w.evaluate(*st)
	return true
}

// ---- answers ----

// solution builds the answer of a feasible state through the same formulas as the
// search.
func (w *graphSearch) solution(st graphState) (GraphSolution, error) {
	ev := w.evaluate(st)
	if !ev.feasible {
		return GraphSolution{}, w.noSolution(st)
	}
	minN := w.t.space.MinLWEDimension
	out := GraphSolution{
		Partitions: make([]Params, w.parts),
		Switches:   make(map[Switch]KeySwitchDecomposition, len(w.sw)),
		Decodings:  make([]DecodingSolution, len(w.decs)),
		Complexity: ev.cost,
		Cost:       w.g.Cost,
	}
	if w.pr.ms != nil {
		out.Complexity = w.priceState(st, &pricing{t: w.t})
	}
	if w.report != nil {
		out.MS = w.priceState(st, w.report)
	}
	for s := range w.sw {
		d := w.ksList(s)[w.choice[s]]
		out.Switches[w.sw[s].Switch] = KeySwitchDecomposition{Level: d.level, LogBase: d.logBase}
	}
	for p, c := range st.parts {
		g := &w.t.glwe[c.g]
		br := g.br[c.br]
		ks := w.t.ks[c.n-minN][0]
		if d, ok := out.Switches[Switch{p, p}]; ok {
			ks = decomposition{level: d.Level, logBase: d.LogBase}
		}
		par, err := ParamsLiteral{GLWERank: g.k, LogPolyDegree: g.logN, LWEDimension: c.n,
			BRLevel: br.level, BRLogBase: br.logBase, KSLevel: ks.level, KSLogBase: ks.logBase}.Compile()
		if err != nil {
			return GraphSolution{}, fmt.Errorf("fhe: graph: partition %d: %w", p, err)
		}
		out.Partitions[p] = par
	}
	logOK := 0.0
	for d, dec := range w.g.Decodings {
		pe := PErrorOfVariance(dec.Precision, w.vs[d])
		out.Decodings[d] = DecodingSolution{Name: dec.Name, Variance: w.vs[d], Bound: w.evenBound[d], PError: pe}
		c := float64(dec.Count)
		logOK += c * math.Log1p(-pe)
		out.ExpectedErrors += c * pe
	}
	out.GlobalPError = -math.Expm1(logOK)
	return out, nil
}

// noSolution returns the ErrNoSolution error of a graph, naming the decoding furthest
// beyond its bound at st (the least infeasible point the search met).
func (w *graphSearch) noSolution(st graphState) error {
	w.evaluate(st)
	worst, wd := -1.0, 0
	for d := range w.decs {
		if r := w.vs[d] / w.cs.list[d].bound; r > worst {
			worst, wd = r, d
		}
	}
	d := w.g.Decodings[wd]
	return &DecodingError{Index: wd, Name: d.Name, Why: fmt.Sprintf(", precision %d): at best %.3g times its variance bound (%s, %d partitions, %d bits)",
		d.Precision, worst, w.target(), w.parts, w.g.Security)}
}
