package calibration

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/fhetune/fhetune/fhe"
)

// Chooser picks parameter sets for table lookups; *fhe.Optimizer is one.
type Chooser interface {
	// Optimize returns the cheapest set for a query.
	Optimize(q fhe.Query) (fhe.Solution, error)
	// Alternatives returns the cheapest set of every (k, N), cheapest first.
	Alternatives(q fhe.Query) ([]fhe.Solution, error)
}

var _ Chooser = (*fhe.Optimizer)(nil)

// PlanOptions says which sets [Plan] chooses. Zero values mean the defaults.
type PlanOptions struct {
	// MinPrecision and MaxPrecision bound the TLU precisions (default 1..8).
	MinPrecision, MaxPrecision int
	// PErrors are the per-TLU error probabilities queried (default [DefaultPErrors]).
	PErrors []float64
	// Log2Norm2s are the dot-product norms queried (default 0 and 2).
	Log2Norm2s []float64
	// Alternatives is how many runner-up (k, N) sets to add per precision, queried at
	// the middle p_error and the first norm: these off-optimum sets vary k and N apart
	// from the precision, which separates the terms of the model (default 2; negative
	// for none).
	Alternatives int
	// MaxLogPolyDegree leaves out alternatives with a larger log2 N (default: the
	// largest log2 N among the optimizer's picks).
	MaxLogPolyDegree int
	// MaxKeyBytes leaves out alternatives whose evaluation keys ([KeyBytes]) are larger,
	// since they take long to generate and much memory (default: twice the largest keys
	// among the optimizer's picks).
	MaxKeyBytes float64
	// HeldOutPErrors and HeldOutLog2Norm2s are the p_errors and norms of the held-out
	// sets: the optimizer's pick for every precision at each of them that is not
	// already a fit set is measured but left out of the fit (see [Target.HeldOut]).
	// The defaults lie between the fit's values: the geometric means of neighbouring
	// PErrors (4× a single one) and the midpoints of neighbouring Log2Norm2s (one
	// above a single one).
	HeldOutPErrors, HeldOutLog2Norm2s []float64
	// NoHeldOut plans no held-out sets.
	NoHeldOut bool
}

// DefaultPErrors are the p_error values [Plan] queries by default: Concrete's reference
// 6.3e-5 (a 4σ bound), 1e-3, 1e-2 and 0.1, the top of a study's default p_error range
// (tuner's [1e-5, 0.1]). Without 0.1 the sets a study picks at large p_error (a second
// bootstrap level at N = 2^10, a keyswitch base log of 7) lie outside the fitted sets,
// and the model priced them 7-13% fast.
var DefaultPErrors = []float64{6.3e-5, 1e-3, 1e-2, 0.1}

func (o PlanOptions) withDefaults() PlanOptions {
	if o.MinPrecision == 0 {
		o.MinPrecision = 1
	}
	if o.MaxPrecision == 0 {
		o.MaxPrecision = 8
	}
	if o.PErrors == nil {
		o.PErrors = DefaultPErrors
	}
	if o.Log2Norm2s == nil {
		o.Log2Norm2s = []float64{0, 2}
	}
	if o.Alternatives == 0 {
		o.Alternatives = 2
	}
	if o.HeldOutPErrors == nil {
		o.HeldOutPErrors = between(o.PErrors, func(a, b float64) float64 { return math.Sqrt(a * b) }, func(a float64) float64 { return min(4*a, 0.5) })
	}
	if o.HeldOutLog2Norm2s == nil {
		o.HeldOutLog2Norm2s = between(o.Log2Norm2s, func(a, b float64) float64 { return (a + b) / 2 }, func(a float64) float64 { return a + 1 })
	}
	return o
}

// between returns mid(a, b) of each two neighbouring values of the sorted xs, or
// single(x) for a single value.
func between(xs []float64, mid func(a, b float64) float64, single func(float64) float64) []float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s) == 1 {
		return []float64{single(s[0])}
	}
	var out []float64
	for i := 1; i < len(s); i++ {
		out = append(out, mid(s[i-1], s[i]))
	}
	return out
}

// Plan chooses the sets to measure: the optimizer's pick for every precision, p_error
// and norm, then for every precision a few runner-up sets of other (k, N), sorted by
// complexity; then, held out of the fit, the picks at the held-out p_errors and norms
// that are not among them. Each set is measured once, at the first query that chose it,
// so that query's precision and norm shape its inputs. An empty precision range, no p_error or no norm is [ErrNoSets]; a
// query without any solution is skipped, and if none has one the result is ErrNoSets.
func Plan(c Chooser, opts PlanOptions) ([]Target, error) {
	o := opts.withDefaults()
	switch {
	case o.MinPrecision < fhe.MinPrecision || o.MaxPrecision > fhe.MaxPrecision:
		return nil, fmt.Errorf("%w: precision range %d..%d not within %d..%d", ErrNoSets, o.MinPrecision, o.MaxPrecision, fhe.MinPrecision, fhe.MaxPrecision)
	case o.MinPrecision > o.MaxPrecision:
		return nil, fmt.Errorf("%w: empty precision range %d..%d", ErrNoSets, o.MinPrecision, o.MaxPrecision)
	case len(o.PErrors) == 0:
		return nil, fmt.Errorf("%w: no p_error values", ErrNoSets)
	case len(o.Log2Norm2s) == 0:
		return nil, fmt.Errorf("%w: no log2 norm2 values", ErrNoSets)
	}
	for _, e := range o.PErrors {
		if !(e > 0 && e < 1) {
			return nil, fmt.Errorf("%w: p_error %g outside (0, 1)", ErrNoSets, e)
		}
	}
	var out []Target
	seen := map[fhe.ParamsLiteral]bool{}
	add := func(s fhe.Solution, label string) {
		lit := s.Params.Literal()
		if seen[lit] {
			return
		}
		seen[lit] = true
		out = append(out, Target{
			Params: s.Params, Precision: s.Query.Precision, Log2Norm2: s.Query.Log2Norm2,
			PError: s.PError, Label: label,
		})
	}
	maxLogN, maxKey := o.MaxLogPolyDegree, o.MaxKeyBytes
	err := optima(c, o.MinPrecision, o.MaxPrecision, o.PErrors, o.Log2Norm2s, "optimum", func(s fhe.Solution, label string) {
		add(s, label)
		if opts.MaxLogPolyDegree == 0 {
			maxLogN = max(maxLogN, s.Params.LogPolyDegree())
		}
		if opts.MaxKeyBytes == 0 {
			maxKey = max(maxKey, KeyBytes(s.Params))
		}
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no query of precision %d..%d has a solution", ErrNoSets, o.MinPrecision, o.MaxPrecision)
	}
	if opts.MaxKeyBytes == 0 {
		maxKey *= 2
	}
	if o.Alternatives > 0 {
		e := o.PErrors[len(o.PErrors)/2]
		for p := o.MinPrecision; p <= o.MaxPrecision; p++ {
			alts, err := c.Alternatives(fhe.Query{Precision: p, Log2Norm2: o.Log2Norm2s[0], PError: e})
			if errors.Is(err, fhe.ErrNoSolution) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("plan alternatives of precision %d: %w", p, err)
			}
			added := 0
			for _, s := range alts[min(1, len(alts)):] {
				if added == o.Alternatives {
					break
				}
				if s.Params.LogPolyDegree() > maxLogN || KeyBytes(s.Params) > maxKey || seen[s.Params.Literal()] {
					continue
				}
				add(s, fmt.Sprintf("runner-up p=%d e=%.2g L=%g", p, e, o.Log2Norm2s[0]))
				added++
			}
		}
	}
	byComplexity := func(a, b Target) int {
		return cmpFloat(a.Params.PBSComplexity(), b.Params.PBSComplexity())
	}
	slices.SortStableFunc(out, byComplexity)
	if o.NoHeldOut {
		return out, nil
	}
	fit := len(out)
	for _, e := range o.HeldOutPErrors {
		if !(e > 0 && e < 1) {
			return nil, fmt.Errorf("%w: held-out p_error %g outside (0, 1)", ErrNoSets, e)
		}
	}
	if err := optima(c, o.MinPrecision, o.MaxPrecision, o.HeldOutPErrors, o.HeldOutLog2Norm2s, "held out", add); err != nil {
		return nil, err
	}
	for i := fit; i < len(out); i++ {
		out[i].HeldOut = true
	}
	slices.SortStableFunc(out[fit:], byComplexity)
	return out, nil
}

// optima queries the optimizer for every precision in lo..hi, p_error and norm, and
// calls each with every solution and its label ("KIND p=P e=E L=L"); a query without a
// solution is skipped.
func optima(c Chooser, lo, hi int, pErrors, norms []float64, kind string, each func(fhe.Solution, string)) error {
	for p := lo; p <= hi; p++ {
		for _, e := range pErrors {
			for _, l := range norms {
				s, err := c.Optimize(fhe.Query{Precision: p, Log2Norm2: l, PError: e})
				if errors.Is(err, fhe.ErrNoSolution) {
					continue
				}
				if err != nil {
					return fmt.Errorf("plan %s precision %d, p_error %g, log2 norm2 %g: %w", kind, p, e, l, err)
				}
				each(s, fmt.Sprintf("%s p=%d e=%.2g L=%g", kind, p, e, l))
			}
		}
	}
	return nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b || (math.IsNaN(a) && !math.IsNaN(b)):
		return -1
	case a > b:
		return 1
	}
	return 0
}
