package fhe

import (
	"fmt"
	"math"
)

// TLUGroup is a set of TLUs that share their input precision, the 2-norm of the dot
// product feeding them and its size: typically the activations of one layer.
type TLUGroup struct {
	// Precision is the TLU input bit-width, 1..16.
	Precision int
	// Log2Norm2 is log2 of the 2-norm of the integer weights of each dot product.
	Log2Norm2 float64
	// SumSize is the number of terms of each dot product; zero means [DefaultSumSize].
	SumSize int
	// Count is the number of TLUs in the group, at least 1.
	Count int
}

// Strategy says how many parameter sets a circuit uses.
type Strategy int

const (
	// MultiParameter gives every TLU group its own cheapest set (the default). Groups
	// then need keyswitches between their keys; like Concrete's cost model, the
	// estimate ignores that extra cost.
	MultiParameter Strategy = iota
	// MonoParameter shares one set, the cheapest that meets every group, over the
	// whole circuit.
	MonoParameter
)

// String returns "multi" or "mono".
func (s Strategy) String() string {
	switch s {
	case MultiParameter:
		return "multi"
	case MonoParameter:
		return "mono"
	}
	return fmt.Sprintf("Strategy(%d)", int(s))
}

// CircuitQuery asks for the parameter sets of every TLU of a circuit.
type CircuitQuery struct {
	// Groups are the circuit's TLUs; at least one.
	Groups []TLUGroup
	// PError is the per-TLU error probability target. Set exactly one of PError and
	// GlobalPError.
	PError float64
	// GlobalPError is the target probability that any TLU of the circuit fails; it is
	// turned into the per-TLU target [PErrorPerTLU](GlobalPError, total TLU count).
	GlobalPError float64
	// Strategy chooses one set per group (default) or one shared set.
	Strategy Strategy
	// Security is the security level in bits; zero means [DefaultSecurity].
	Security int
	// Cost is what the sets minimize; empty means the optimizer's default.
	Cost CostKind
}

// CircuitSolution holds the sets chosen for a circuit.
type CircuitSolution struct {
	// Strategy is the strategy used.
	Strategy Strategy
	// PErrorPerTLU is the per-TLU target every group was solved for.
	PErrorPerTLU float64
	// Groups holds one solution per query group, in order. With MonoParameter they all
	// share one Params; each still reports its own variance, p_error and complexity.
	Groups []Solution
	// TLUCount is the total number of TLUs.
	TLUCount int
	// Complexity is Σ count × complexity over the groups, and MS Σ count × [Solution.MS]
	// (0 without a Timer); Cost is what the sets minimize.
	Complexity float64
	MS         float64
	Cost       CostKind
	// GlobalPError is the actual probability that at least one TLU fails,
	// 1 − Π (1 − p_g)^count_g.
	GlobalPError float64
}

// PerTLUTarget checks q's error targets and returns the per-TLU p_error and the total TLU
// count.
func (q CircuitQuery) PerTLUTarget() (float64, int, error) {
	if len(q.Groups) == 0 {
		return 0, 0, fmt.Errorf("%w: circuit has no TLU group", ErrInvalidQuery)
	}
	total := 0
	for i, g := range q.Groups {
		if g.Count < 1 {
			return 0, 0, fmt.Errorf("%w: TLU group %d: count %d below 1", ErrInvalidQuery, i, g.Count)
		}
		total += g.Count
	}
	switch {
	case q.PError != 0 && q.GlobalPError != 0:
		return 0, 0, fmt.Errorf("%w: set p_error (%g) or global_p_error (%g), not both", ErrInvalidQuery, q.PError, q.GlobalPError)
	case q.GlobalPError != 0:
		if err := CheckPError("global_p_error", q.GlobalPError); err != nil {
			return 0, 0, err
		}
		return PErrorPerTLU(q.GlobalPError, total), total, nil
	case q.PError != 0:
		if err := CheckPError("p_error", q.PError); err != nil {
			return 0, 0, err
		}
		return q.PError, total, nil
	}
	return 0, 0, fmt.Errorf("%w: set p_error or global_p_error", ErrInvalidQuery)
}

// Circuit chooses the parameter sets of a circuit: with MultiParameter the cheapest set
// of each group ([Optimizer.Optimize], memoized), with MonoParameter the one set that
// minimizes Σ count·(dot product + keyswitch + bootstrap) while meeting every group's
// bound, found by the same exact search. Cheapest is by q.Cost. Errors name the group
// that has no solution.
func (o *Optimizer) Circuit(q CircuitQuery) (CircuitSolution, error) {
	pErr, total, err := q.PerTLUTarget()
	if err != nil {
		return CircuitSolution{}, err
	}
	cost, err := o.resolveCost(q.Cost)
	if err != nil {
		return CircuitSolution{}, err
	}
	queries := make([]Query, len(q.Groups))
	for i, g := range q.Groups {
		nq, err := Query{Precision: g.Precision, Log2Norm2: g.Log2Norm2, PError: pErr,
			Security: q.Security, SumSize: g.SumSize, Cost: cost}.normalize()
		if err != nil {
			return CircuitSolution{}, fmt.Errorf("TLU group %d: %w", i, err)
		}
		queries[i] = nq
	}
	out := CircuitSolution{Strategy: q.Strategy, PErrorPerTLU: pErr, TLUCount: total,
		Groups: make([]Solution, len(q.Groups)), Cost: cost}
	switch q.Strategy {
	case MultiParameter:
		for i, nq := range queries {
			s, err := o.Optimize(nq)
			if err != nil {
				return CircuitSolution{}, fmt.Errorf("TLU group %d: %w", i, err)
			}
			out.Groups[i] = s
		}
	case MonoParameter:
		p, err := o.mono(queries, q.Groups)
		if err != nil {
			return CircuitSolution{}, err
		}
		for i, nq := range queries {
			if out.Groups[i], err = o.newSolution(nq, p); err != nil {
				return CircuitSolution{}, fmt.Errorf("TLU group %d: %w", i, err)
			}
		}
	default:
		return CircuitSolution{}, fmt.Errorf("%w: unknown strategy %d", ErrInvalidQuery, int(q.Strategy))
	}
	logOK := 0.0
	for i, s := range out.Groups {
		c := float64(q.Groups[i].Count)
		out.Complexity += c * s.Complexity
		out.MS += c * s.MS
		logOK += c * math.Log1p(-s.PError)
	}
	out.GlobalPError = -math.Expm1(logOK)
	return out, nil
}

// mono runs the exact search with one constraint per group and the circuit's total
// cost as objective.
func (o *Optimizer) mono(queries []Query, groups []TLUGroup) (Params, error) {
	security := queries[0].Security
	pr, err := o.pricing(queries[0].Cost, security)
	if err != nil {
		return Params{}, err
	}
	t := pr.t
	cons := make([]constraint, len(queries))
	levelled, atomic := 0.0, 0.0
	for i, nq := range queries {
		cons[i] = constraint{f: norm2Squared(nq.Log2Norm2), bound: VarianceBound(nq.Precision, nq.PError)}
		levelled += float64(groups[i].Count) * float64(nq.SumSize)
		atomic += float64(groups[i].Count)
	}
	best := noCandidate()
	for _, g := range t.byLowerBound(pr, levelled, atomic) {
		if g.lowerBound > best.cost {
			break
		}
		t.searchGLWE(g.glwe, pr, cons, levelled, atomic, &best)
	}
	if err := pr.failed(); err != nil {
		return Params{}, fmt.Errorf("fhe: mono-parameter search: %w", err)
	}
	if !best.present {
		return Params{}, fmt.Errorf("%w: no single set serves all %d TLU groups at p_error %g per TLU (%d bits)",
			ErrNoSolution, len(queries), queries[0].PError, security)
	}
	p, err := best.lit.Compile()
	if err != nil {
		return Params{}, fmt.Errorf("fhe: mono-parameter search: %w", err)
	}
	return p, nil
}
