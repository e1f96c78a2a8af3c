package tuner

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/fhetune/fhetune/fhe"
	"github.com/fhetune/fhetune/fhe/circuit"
)

// Defaults of PErrorSearch, Concrete ML's where it has one (BinarySearch in
// src/concrete/ml/search_parameters/p_error_search.py).
const (
	// DefaultPErrorSeeds is the number of simulations per p_error, each with its own
	// error-injection seed: Concrete ML's n_simulation.
	DefaultPErrorSeeds = 5
	// DefaultPErrorUpper is the upper end of the search range: Concrete ML's upper.
	DefaultPErrorUpper = 0.9
	// DefaultPErrorLower is the lower end of the search range: Concrete ML's reference
	// p_error, 2^−40 (its lower bound, 0, has no logarithm).
	DefaultPErrorLower = fhe.DefaultPError
	// DefaultPErrorMaxEvaluations bounds the bisection steps: Concrete ML's max_iter.
	DefaultPErrorMaxEvaluations = 20
	// DefaultPErrorTolerance is the ratio upper/lower of the bracket below which the
	// bisection stops: p_error is then known within 10%. From Concrete ML's range this
	// takes 9 steps.
	DefaultPErrorTolerance = 1.1
)

// PErrorSearch holds the options of SearchPError; its zero fields take the defaults
// above.
type PErrorSearch struct {
	// MaxAccuracyDrop is D, in [0, 1): a p_error is accepted when its mean simulated
	// accuracy is at least the error-free quantized accuracy minus D (Concrete ML's
	// max_metric_loss).
	MaxAccuracyDrop float64
	// Global searches global_p_error (the probability that one inference has any
	// error) instead of p_error (per TLU).
	Global bool
	// Seeds is the number of simulations per p_error (default DefaultPErrorSeeds); the
	// i-th uses the error-injection seed Task.Seed + i, so the first is Evaluate's.
	Seeds int
	// Lower and Upper bound the search range, 0 < Lower < Upper < 1 (defaults
	// DefaultPErrorLower and DefaultPErrorUpper).
	Lower, Upper float64
	// MaxEvaluations bounds the bisection steps (default DefaultPErrorMaxEvaluations).
	MaxEvaluations int
	// Tolerance stops the bisection once upper/lower ≤ Tolerance, > 1 (default
	// DefaultPErrorTolerance).
	Tolerance float64
	// Progress, when not nil, is called after each evaluation with its step.
	Progress func(PErrorStep)
}

// withDefaults fills the zero fields and checks the result.
func (o PErrorSearch) withDefaults() (PErrorSearch, error) {
	if o.Seeds == 0 {
		o.Seeds = DefaultPErrorSeeds
	}
	if o.Lower == 0 {
		o.Lower = DefaultPErrorLower
	}
	if o.Upper == 0 {
		o.Upper = DefaultPErrorUpper
	}
	if o.MaxEvaluations == 0 {
		o.MaxEvaluations = DefaultPErrorMaxEvaluations
	}
	if o.Tolerance == 0 {
		o.Tolerance = DefaultPErrorTolerance
	}
	switch {
	case !(o.MaxAccuracyDrop >= 0 && o.MaxAccuracyDrop < 1):
		return o, fmt.Errorf("%w: max accuracy drop %v outside [0, 1)", ErrKnobs, o.MaxAccuracyDrop)
	case o.Seeds < 1:
		return o, fmt.Errorf("%w: p_error search: %d seeds, want at least 1", ErrKnobs, o.Seeds)
	case !(o.Lower > 0 && o.Lower < o.Upper && o.Upper < 1):
		return o, fmt.Errorf("%w: p_error search range [%v, %v]: want 0 < lower < upper < 1", ErrKnobs, o.Lower, o.Upper)
	case o.MaxEvaluations < 1:
		return o, fmt.Errorf("%w: p_error search: max evaluations %d below 1", ErrKnobs, o.MaxEvaluations)
	case !(o.Tolerance > 1):
		return o, fmt.Errorf("%w: p_error search: tolerance %v, want a ratio above 1", ErrKnobs, o.Tolerance)
	}
	return o, nil
}

// PErrorStep is one evaluated p_error (or global_p_error) of the search.
type PErrorStep struct {
	PError float64 `json:"p_error"`
	// Accuracy is the mean accuracy of the simulations with errors; 0 when no crypto
	// set serves this p_error.
	Accuracy float64 `json:"accuracy"`
	// Accepted says that Accuracy is within the drop of the reference.
	Accepted bool `json:"accepted"`
	// Infeasible says that no crypto set serves this p_error (too small for the
	// circuit's widest TLU): the answer lies above it.
	Infeasible bool `json:"infeasible,omitempty"`
	// LatencyMS is the estimated latency under this p_error's crypto sets.
	LatencyMS float64 `json:"-"`
}

// PErrorResult is what SearchPError found. Its JSON form is what `fhetune search
// p-error --json` prints (a contract, DESIGN.md).
type PErrorResult struct {
	// PError is the largest accepted p_error (global_p_error with Global) found, its
	// Accuracy the mean simulated accuracy there and LatencyMS the latency of one
	// encrypted inference with its crypto sets.
	PError    float64 `json:"p_error"`
	Accuracy  float64 `json:"accuracy"`
	LatencyMS float64 `json:"latency_ms"`
	// Evaluations counts the p_errors simulated (each Seeds times); History lists them
	// in order.
	Evaluations int          `json:"evaluations"`
	History     []PErrorStep `json:"history"`
	// Global says whether PError is a global_p_error; Reference is the error-free
	// quantized accuracy the drop is measured from; Converged that the bracket shrank to
	// the tolerance within MaxEvaluations (Concrete ML warns when it does not).
	Global    bool    `json:"-"`
	Reference float64 `json:"-"`
	Converged bool    `json:"-"`
}

// SearchPError finds the largest p_error (or, with opts.Global, global_p_error) whose
// simulated accuracy stays within opts.MaxAccuracyDrop of the error-free quantized
// accuracy of the knobs k, as Concrete ML's BinarySearch does
// (src/concrete/ml/search_parameters/p_error_search.py): a bisection of [Lower, Upper]
// that accepts a p_error when its simulations match and then raises the lower bound to
// it, or else lowers the upper bound, until MaxEvaluations.
//
// The network is trained (or taken from the Env's cache) and compiled once; each step
// only chooses the crypto sets for its p_error, simulates the circuit over the test
// split Seeds times with their noise, and estimates the latency. k's PError and
// GlobalPError are ignored: the search sets the one it searches.
//
// Where it deliberately differs from Concrete ML:
//
//   - it bisects in log space (the geometric mean of the bounds): p_error spans
//     orders of magnitude, and Concrete ML's arithmetic mean of [0, 0.9] needs 20 steps
//     to get below 10^−6;
//   - the reference is the circuit's error-free accuracy, exact, where Concrete ML
//     simulates at p_error 2^−40;
//   - a p_error matches when the mean accuracy of its simulations is within the drop
//     (Concrete ML's default strategy, all, asks every simulation to be, which makes
//     the answer shrink as simulations are added);
//   - it also stops when upper/lower ≤ Tolerance, the threshold its doc mentions;
//   - it returns the largest accepted p_error, evaluated, where Concrete ML returns
//     the midpoint of the last bracket, never simulated; when no step is accepted it
//     evaluates Lower (one more evaluation) and returns it if it meets the drop.
//
// A p_error that no crypto set serves counts as too small (infeasibility only grows as
// p_error shrinks). Errors wrap ErrKnobs for bad knobs or options, ErrInfeasible when
// no p_error in the range meets the drop or the circuit cannot run, ErrTask for a bad
// task, and ctx's error when it is cancelled.
func SearchPError(ctx context.Context, env *Env, task Task, k Knobs, opts PErrorSearch) (PErrorResult, error) {
	if env == nil {
		return PErrorResult{}, fmt.Errorf("%w: no environment", ErrTask)
	}
	o, err := opts.withDefaults()
	if err != nil {
		return PErrorResult{}, err
	}
	k.PError, k.GlobalPError = 0, 0
	if o.Global {
		k.GlobalPError = o.Upper
	} else {
		k.PError = o.Upper
	}
	if err := checkTrial(ctx, env, task, k); err != nil {
		return PErrorResult{}, err
	}
	cp, err := compileCircuit(ctx, env, task, k)
	if err != nil {
		return PErrorResult{}, err
	}
	s := &perrorSearcher{env: env, task: task, cp: cp, opts: o, res: PErrorResult{Global: o.Global}}
	if s.pc, err = k.paramsConfig(); err != nil {
		return PErrorResult{}, err
	}
	best := -1 // index in History of the largest accepted step
	lo, hi := o.Lower, o.Upper
	for s.res.Evaluations < o.MaxEvaluations && hi/lo > o.Tolerance {
		if err := ctx.Err(); err != nil {
			return PErrorResult{}, err
		}
		p := math.Sqrt(lo) * math.Sqrt(hi) // the geometric mean, without underflow
		st, err := s.eval(p)
		if err != nil {
			return PErrorResult{}, err
		}
		if st.Accepted || st.Infeasible {
			lo = p
		} else {
			hi = p
		}
		if st.Accepted && (best < 0 || p > s.res.History[best].PError) {
			best = len(s.res.History) - 1
		}
	}
	s.res.Converged = hi/lo <= o.Tolerance
	if best < 0 {
		if s.infeasible != nil && !s.feasible {
			// No step had crypto parameters, the largest included: a smaller Lower has
			// none either, and the largest step's error names the layer and what to try.
			return PErrorResult{}, fmt.Errorf("p_error search: at %s %g: %w", s.knob(), s.res.History[len(s.res.History)-1].PError, s.infeasible)
		}
		if err := ctx.Err(); err != nil {
			return PErrorResult{}, err
		}
		st, err := s.eval(o.Lower)
		if err != nil {
			return PErrorResult{}, err
		}
		if !st.Accepted {
			why := fmt.Sprintf("accuracy %.4f, more than %v below the error-free %.4f", st.Accuracy, o.MaxAccuracyDrop, s.res.Reference)
			if st.Infeasible {
				why = "no crypto parameters serve it"
			}
			return PErrorResult{}, fmt.Errorf("%w: p_error search: no %s in [%g, %g] meets the drop: at %g, %s",
				ErrInfeasible, s.knob(), o.Lower, o.Upper, o.Lower, why)
		}
		best = len(s.res.History) - 1
	}
	b := s.res.History[best]
	s.res.PError, s.res.Accuracy, s.res.LatencyMS = b.PError, b.Accuracy, b.LatencyMS
	return s.res, nil
}

// perrorSearcher evaluates the p_errors of one search on one compiled circuit.
type perrorSearcher struct {
	env  *Env
	task Task
	cp   *compiled
	// pc is the knobs' parameter config; eval sets its PError or GlobalPError.
	pc   circuit.ParamsConfig
	opts PErrorSearch
	res  PErrorResult
	// feasible says that some step had crypto parameters; infeasible is the error of
	// the last step that had none.
	feasible   bool
	infeasible error
}

// knob names the searched knob.
func (s *perrorSearcher) knob() string {
	if s.opts.Global {
		return "global_p_error"
	}
	return "p_error"
}

// eval simulates the circuit at p with every seed, records the step in the result
// (and the reference accuracy at the first simulation) and reports it.
func (s *perrorSearcher) eval(p float64) (PErrorStep, error) {
	pc := s.pc
	if s.opts.Global {
		pc.GlobalPError = p
	} else {
		pc.PError = p
	}
	st := PErrorStep{PError: p}
	sol, noise, err := s.cp.chooseParams(s.env.Optimizer, pc)
	switch {
	case errors.Is(err, circuit.ErrNoParams):
		st.Infeasible, s.infeasible = true, err
	case err != nil:
		return st, fmt.Errorf("p_error search at %s %g: %w", s.knob(), p, err)
	default:
		s.feasible = true
		sum := 0.0
		for i := range s.opts.Seeds {
			sim, err := s.cp.Circuit.Simulate(s.cp.Test, s.task.Test.Y, &noise, s.task.Seed+uint64(i))
			if err != nil {
				return st, fmt.Errorf("%w: p_error search at %s %g: %w", ErrTask, s.knob(), p, err)
			}
			sum += sim.Accuracy
			s.res.Reference = sim.QuantizedAccuracy
		}
		st.Accuracy = sum / float64(s.opts.Seeds)
		// A hair of slack, so that a mean equal to the reference is not refused for its
		// last bit.
		st.Accepted = s.res.Reference-st.Accuracy <= s.opts.MaxAccuracyDrop+1e-12
		lat, err := s.cp.Circuit.Estimate(sol, s.env.Timing, s.cp.Cores)
		if err != nil {
			return st, fmt.Errorf("tuner: p_error search at %s %g: estimate latency: %w", s.knob(), p, err)
		}
		st.LatencyMS = lat.TotalMS
	}
	s.res.Evaluations++
	s.res.History = append(s.res.History, st)
	if s.opts.Progress != nil {
		s.opts.Progress(st)
	}
	return st, nil
}
