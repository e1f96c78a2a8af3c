package search

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// State is the lifecycle state of a trial. The zero State is Running.
type State int

const (
	// Running: sampled and being evaluated (or abandoned, until the study reaps it).
	Running State = iota
	// Complete: evaluated; Values (and Constraints, if the study has any) are set.
	Complete
	// Pruned: stopped early by the study; samplers ignore it.
	Pruned
	// Fail: the evaluation failed. A failed trial in a history carries its Params
	// only; samplers may steer away from where it lies (parego does) or ignore it.
	Fail
)

// String returns "running", "complete", "pruned" or "fail".
func (s State) String() string {
	switch s {
	case Running:
		return "running"
	case Complete:
		return "complete"
	case Pruned:
		return "pruned"
	case Fail:
		return "fail"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Trial is what a sampler reads of one trial of the history: a frozen snapshot that the
// samplers never modify.
type Trial struct {
	// Number is the trial's position in the study, from 0, unique.
	Number int
	// State is the lifecycle state; samplers learn from Complete trials, and may use
	// where Fail trials lie.
	State State
	// Params maps parameter names to internal values (see the package doc).
	Params map[string]float64
	// Values holds one objective value per direction of the study (Complete trials).
	Values []float64
	// Constraints holds the constraint values c_i; the trial is feasible when every
	// c_i ≤ 0. Empty means feasible.
	Constraints []float64
}

// Violation returns the total constraint violation Σ max(0, c_i): 0 for a feasible trial,
// +Inf when a constraint value is NaN.
func (t Trial) Violation() float64 {
	return Violation(t.Constraints)
}

// Feasible reports whether every constraint value is ≤ 0.
func (t Trial) Feasible() bool {
	return Violation(t.Constraints) == 0
}

// Violation returns Σ max(0, c_i) over constraint values (≤ 0 means satisfied); NaN
// counts as an infinite violation.
func Violation(constraints []float64) float64 {
	total := 0.0
	for _, c := range constraints {
		if math.IsNaN(c) {
			return math.Inf(1)
		}
		if c > 0 {
			total += c
		}
	}
	return total
}

// Completed returns the trials of history that samplers learn from, sorted by Number:
// Complete trials whose values are all finite and whose Params hold a value in the space
// for every parameter. Other trials are left out (a completed trial with NaN or infinite
// values counts as failed; one whose parameters lie outside the space, say from an
// earlier space, is ignored). A Complete trial with len(Values) != len(dirs) makes it
// fail with ErrBadHistory. The returned trials share their maps and slices with history.
func Completed(space Space, dirs []Direction, history []Trial) ([]Trial, error) {
	var out []Trial
	for _, t := range history {
		if t.State != Complete {
			continue
		}
		if len(t.Values) != len(dirs) {
			return nil, fmt.Errorf("%w: trial %d has %d objective values, the study has %d objectives",
				ErrBadHistory, t.Number, len(t.Values), len(dirs))
		}
		finite := true
		for _, v := range t.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				finite = false
				break
			}
		}
		if finite && space.fits(t.Params) {
			out = append(out, t)
		}
	}
	slices.SortStableFunc(out, func(a, b Trial) int { return cmp.Compare(a.Number, b.Number) })
	return out, nil
}

// Failed returns the Fail trials of history whose parameters cover the space (each with
// a value the parameter contains), by number: where evaluations failed, for samplers that
// steer away from them.
func Failed(space Space, history []Trial) []Trial {
	var out []Trial
	for _, t := range history {
		if t.State == Fail && space.fits(t.Params) {
			out = append(out, t)
		}
	}
	slices.SortStableFunc(out, func(a, b Trial) int { return cmp.Compare(a.Number, b.Number) })
	return out
}

// CheckArgs validates the arguments of a [Sampler.Sample] call: the space, at least one
// valid direction, and a non-negative trial number.
func CheckArgs(space Space, dirs []Direction, number int) error {
	if err := space.Validate(); err != nil {
		return err
	}
	if len(dirs) == 0 {
		return ErrNoObjectives
	}
	for i, d := range dirs {
		if d != Minimize && d != Maximize {
			return fmt.Errorf("%w: objective %d has direction %v", ErrBadDirection, i, d)
		}
	}
	if number < 0 {
		return fmt.Errorf("%w: %d", ErrBadNumber, number)
	}
	return nil
}
