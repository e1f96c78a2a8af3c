package search

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// Kind is the distribution of a parameter. The zero Kind is invalid, so a Param must say
// what it is.
type Kind int

const (
	// Int: the integers Low, Low+Step, … up to High (Step defaults to 1). Low, High and
	// Step must be whole numbers.
	Int Kind = iota + 1
	// Float: the reals in [Low, High], or, when Step > 0, the grid Low, Low+Step, … up
	// to High.
	Float
	// LogFloat: the reals in [Low, High] with Low > 0, drawn uniformly in log scale (no
	// step).
	LogFloat
	// Categorical: one of Choices; its internal value is the index of the choice.
	Categorical
)

// String returns "int", "float", "log-float" or "categorical".
func (k Kind) String() string {
	switch k {
	case Int:
		return "int"
	case Float:
		return "float"
	case LogFloat:
		return "log-float"
	case Categorical:
		return "categorical"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// maxCount bounds the number of values of a discrete parameter, so that indices stay
// exact in a float64.
const maxCount = 1 << 50

// Param is one dimension of a search space. Its methods take and return internal values
// (see the package doc). A Param is a plain value: copy it freely.
type Param struct {
	// Name identifies the parameter in a trial's Params map.
	Name string
	// Kind is the distribution.
	Kind Kind
	// Low and High bound numeric kinds, both included. Equal bounds fix the value.
	Low, High float64
	// Step is the grid spacing of Int (0 means 1) and Float (0 means continuous)
	// parameters; LogFloat and Categorical parameters take none. When (High−Low)/Step is
	// not whole, the largest grid value is below High.
	Step float64
	// Choices are the values of a Categorical parameter, at least one, no duplicates.
	Choices []string
}

// Validate checks the parameter alone. Its error is a [*ParamError] naming the parameter
// and wrapping one of ErrEmptyName, ErrUnknownKind, ErrNotFinite, ErrLowAboveHigh,
// ErrLogRange, ErrBadStep, ErrTooManyValues, ErrEmptyRange or ErrDuplicateChoice.
func (p Param) Validate() error {
	if err := p.validate(); err != nil {
		return &ParamError{Name: p.Name, Err: err}
	}
	return nil
}

func (p Param) validate() error {
	if p.Name == "" {
		return ErrEmptyName
	}
	switch p.Kind {
	case Categorical:
		if len(p.Choices) == 0 {
			return fmt.Errorf("%w: categorical without choices", ErrEmptyRange)
		}
		seen := make(map[string]bool, len(p.Choices))
		for _, c := range p.Choices {
			if seen[c] {
				return fmt.Errorf("%w %q", ErrDuplicateChoice, c)
			}
			seen[c] = true
		}
		return nil
	case Int, Float, LogFloat:
	default:
		return fmt.Errorf("%w %d", ErrUnknownKind, int(p.Kind))
	}
	for _, b := range []struct {
		name string
		v    float64
	}{{"low", p.Low}, {"high", p.High}, {"step", p.Step}} {
		if math.IsNaN(b.v) || math.IsInf(b.v, 0) {
			return fmt.Errorf("%w: %s is %v", ErrNotFinite, b.name, b.v)
		}
	}
	if p.Low > p.High {
		return fmt.Errorf("%w: low %v > high %v", ErrLowAboveHigh, p.Low, p.High)
	}
	if p.Step < 0 {
		return fmt.Errorf("%w: step %v is negative", ErrBadStep, p.Step)
	}
	switch p.Kind {
	case Int:
		for _, b := range []struct {
			name string
			v    float64
		}{{"low", p.Low}, {"high", p.High}, {"step", p.Step}} {
			if b.v != math.Trunc(b.v) {
				return fmt.Errorf("%w: %s %v of an int parameter is not a whole number", ErrBadStep, b.name, b.v)
			}
		}
	case LogFloat:
		if p.Low <= 0 {
			return fmt.Errorf("%w, got low %v", ErrLogRange, p.Low)
		}
		if p.Step != 0 {
			return fmt.Errorf("%w: a log-float parameter takes no step (got %v)", ErrBadStep, p.Step)
		}
	}
	if s := p.step(); s > 0 && (p.High-p.Low)/s >= maxCount {
		return fmt.Errorf("%w: [%v, %v] in steps of %v", ErrTooManyValues, p.Low, p.High, s)
	}
	return nil
}

// step is the grid spacing, 0 for continuous ranges.
func (p Param) step() float64 {
	if p.Kind == Int && p.Step == 0 {
		return 1
	}
	if p.Kind == Categorical {
		return 1
	}
	return p.Step
}

// Count returns the number of values a discrete parameter can take (choices, grid
// points; 1 when Low == High) and 0 for a continuous range.
func (p Param) Count() int {
	switch {
	case p.Kind == Categorical:
		return len(p.Choices)
	case p.Low == p.High:
		return 1
	case p.step() > 0:
		return int(math.Floor((p.High-p.Low)/p.step()+1e-9)) + 1
	}
	return 0
}

// Value returns the k-th value (0-based) of a discrete parameter: Low + k·Step, or k for a
// categorical one. k is not checked against Count.
func (p Param) Value(k int) float64 {
	if p.Kind == Categorical {
		return float64(k)
	}
	return p.Low + float64(k)*p.step()
}

// index returns the position of the discrete value nearest to v, clipped to the range.
func (p Param) index(v float64) int {
	n := p.Count()
	if n <= 1 || math.IsNaN(v) {
		return 0
	}
	k := math.Round((v - p.Value(0)) / p.step())
	return int(min(max(k, 0), float64(n-1)))
}

// Contains reports whether v is a value of the parameter: inside the range and, for a
// discrete parameter, on the grid (within 1e-9 of a step).
func (p Param) Contains(v float64) bool {
	if math.IsNaN(v) {
		return false
	}
	n := p.Count()
	if n == 0 {
		return p.Low <= v && v <= p.High
	}
	if n == 1 {
		return v == p.Value(0)
	}
	k := math.Round((v - p.Value(0)) / p.step())
	if k < 0 || k >= float64(n) {
		return false
	}
	return math.Abs(v-p.Value(int(k))) <= 1e-9*p.step()
}

// Snap returns the value of the parameter nearest to v: v clipped to the range, on the
// grid for discrete parameters. NaN snaps to Low (choice 0).
func (p Param) Snap(v float64) float64 {
	if p.Count() > 0 {
		return p.Value(p.index(v))
	}
	if math.IsNaN(v) {
		return p.Low
	}
	return min(max(v, p.Low), p.High)
}

// FromUnit maps u in [0, 1] (clipped) to a value of the parameter: linearly for Float, in
// log scale for LogFloat, and to one of Count equal cells for discrete parameters, so a
// uniform u gives a uniform value.
func (p Param) FromUnit(u float64) float64 {
	u = min(max(u, 0), 1)
	if math.IsNaN(u) {
		u = 0
	}
	if n := p.Count(); n > 0 {
		k := min(int(u*float64(n)), n-1)
		return p.Value(k)
	}
	if p.Kind == LogFloat {
		lo, hi := math.Log(p.Low), math.Log(p.High)
		return min(max(math.Exp(lo+u*(hi-lo)), p.Low), p.High)
	}
	return min(p.Low+u*(p.High-p.Low), p.High)
}

// ToUnit is the inverse of FromUnit: it maps a value to [0, 1], a discrete value to the
// centre of its cell.
func (p Param) ToUnit(v float64) float64 {
	if n := p.Count(); n > 0 {
		return (float64(p.index(v)) + 0.5) / float64(n)
	}
	if p.Kind == LogFloat {
		lo, hi := math.Log(p.Low), math.Log(p.High)
		return min(max((math.Log(v)-lo)/(hi-lo), 0), 1)
	}
	return min(max((v-p.Low)/(p.High-p.Low), 0), 1)
}

// Uniform draws a value from the parameter's prior: uniform for Float, Int and stepped
// Float (each grid value equally likely), log-uniform for LogFloat, uniform over Choices.
func (p Param) Uniform(rng *rand.Rand) float64 {
	if n := p.Count(); n > 0 {
		return p.Value(rng.IntN(n))
	}
	return p.FromUnit(rng.Float64())
}

// Label formats an internal value for people: the integer, the number, or the choice.
func (p Param) Label(v float64) string {
	switch p.Kind {
	case Categorical:
		if k := int(v); float64(k) == v && k >= 0 && k < len(p.Choices) {
			return p.Choices[k]
		}
		return fmt.Sprintf("choice(%v)", v)
	case Int:
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	}
	if p.Step > 0 {
		return strconv.FormatFloat(v, 'g', 12, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// String describes the parameter, as in `n_w_bits int [2, 8]`, `pruning float [0, 0.5]
// step 0.1`, `p_error log-float [1e-06, 0.01]`, `mode categorical {a, b}`.
func (p Param) String() string {
	if p.Kind == Categorical {
		return fmt.Sprintf("%s categorical {%s}", p.Name, strings.Join(p.Choices, ", "))
	}
	s := fmt.Sprintf("%s %v [%v, %v]", p.Name, p.Kind, p.Low, p.High)
	if p.Step != 0 {
		s += fmt.Sprintf(" step %v", p.Step)
	}
	return s
}

// Space is the set of parameters a study searches, in a fixed order (samplers draw
// parameters in this order).
type Space struct {
	Params []Param
}

// Validate checks every parameter and that names are unique and present. The error names
// the first offending parameter (a [*ParamError]) or wraps ErrNoParams.
func (s Space) Validate() error {
	if len(s.Params) == 0 {
		return ErrNoParams
	}
	seen := make(map[string]bool, len(s.Params))
	for i, p := range s.Params {
		if err := p.validate(); err != nil {
			return &ParamError{Index: i, Name: p.Name, Err: err}
		}
		if seen[p.Name] {
			return &ParamError{Index: i, Name: p.Name, Err: ErrDuplicateName}
		}
		seen[p.Name] = true
	}
	return nil
}

// Lookup returns the parameter called name.
func (s Space) Lookup(name string) (Param, bool) {
	i := slices.IndexFunc(s.Params, func(p Param) bool { return p.Name == name })
	if i < 0 {
		return Param{}, false
	}
	return s.Params[i], true
}

// Check verifies that values holds exactly the space's parameters, each with a value
// the parameter contains. The error wraps ErrBadValue and names the parameter.
func (s Space) Check(values map[string]float64) error {
	for i, p := range s.Params {
		v, ok := values[p.Name]
		if !ok {
			return &ParamError{Index: i, Name: p.Name, Err: fmt.Errorf("%w: missing", ErrBadValue)}
		}
		if !p.Contains(v) {
			return &ParamError{Index: i, Name: p.Name, Err: fmt.Errorf("%w: %v not in %v", ErrBadValue, v, p)}
		}
	}
	if len(values) != len(s.Params) {
		for name := range values {
			if _, ok := s.Lookup(name); !ok {
				return fmt.Errorf("%w: unknown parameter %q", ErrBadValue, name)
			}
		}
	}
	return nil
}

// fits reports whether values has every parameter of s with a contained value (extra
// names are allowed).
func (s Space) fits(values map[string]float64) bool {
	for _, p := range s.Params {
		v, ok := values[p.Name]
		if !ok || !p.Contains(v) {
			return false
		}
	}
	return true
}

// Equal reports whether s and t have the same parameters in the same order (bounds
// compared exactly).
func (s Space) Equal(t Space) bool {
	return slices.EqualFunc(s.Params, t.Params, func(a, b Param) bool {
		return a.Name == b.Name && a.Kind == b.Kind && a.Low == b.Low && a.High == b.High &&
			a.Step == b.Step && slices.Equal(a.Choices, b.Choices)
	})
}

// Clone returns a deep copy of s, safe to keep while the caller changes its own.
func (s Space) Clone() Space {
	ps := slices.Clone(s.Params)
	for i := range ps {
		ps[i].Choices = slices.Clone(ps[i].Choices)
	}
	return Space{Params: ps}
}

// Key returns a string that identifies the space: equal spaces have equal keys. Samplers
// use it to tell whether a cache built for one space still applies.
func (s Space) Key() string {
	var b strings.Builder
	for _, p := range s.Params {
		fmt.Fprintf(&b, "%q|%d|%x|%x|%x|%q;", p.Name, p.Kind, math.Float64bits(p.Low),
			math.Float64bits(p.High), math.Float64bits(p.Step), p.Choices)
	}
	return b.String()
}
