package search

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors; check them with errors.Is. Errors about one parameter come wrapped in a
// [*ParamError] that names it.
var (
	// ErrUnknownKind marks a parameter kind other than Int, Float, LogFloat or Categorical.
	ErrUnknownKind = errors.New("search: unknown parameter kind")
	// ErrEmptyName marks a parameter without a name.
	ErrEmptyName = errors.New("search: empty parameter name")
	// ErrDuplicateName marks two parameters of a space with the same name.
	ErrDuplicateName = errors.New("search: duplicate parameter name")
	// ErrNoParams marks a space without parameters.
	ErrNoParams = errors.New("search: space has no parameters")
	// ErrNotFinite marks a bound or step that is NaN or infinite.
	ErrNotFinite = errors.New("search: bound is not a finite number")
	// ErrLowAboveHigh marks a range whose low bound is above its high bound.
	ErrLowAboveHigh = errors.New("search: low above high")
	// ErrEmptyRange marks a parameter with no value to take: a categorical without
	// choices.
	ErrEmptyRange = errors.New("search: empty range")
	// ErrLogRange marks a log-scale range whose low bound is not positive.
	ErrLogRange = errors.New("search: log scale needs low > 0")
	// ErrBadStep marks a negative step, a non-integer step or bound of an Int parameter,
	// or a step on a LogFloat parameter.
	ErrBadStep = errors.New("search: bad step")
	// ErrTooManyValues marks a discrete range with more than 2^50 values.
	ErrTooManyValues = errors.New("search: too many values")
	// ErrDuplicateChoice marks a categorical parameter listing a choice twice.
	ErrDuplicateChoice = errors.New("search: duplicate choice")
	// ErrBadValue marks a parameter value outside its distribution, or a missing or unknown
	// parameter in a set of values.
	ErrBadValue = errors.New("search: value outside the space")
	// ErrNoObjectives marks a sampler call without objective directions.
	ErrNoObjectives = errors.New("search: no objectives")
	// ErrBadDirection marks a direction other than Minimize or Maximize.
	ErrBadDirection = errors.New("search: unknown direction")
	// ErrBadNumber marks a negative trial number.
	ErrBadNumber = errors.New("search: negative trial number")
	// ErrBadHistory marks a history that cannot come from the given study: a completed
	// trial with the wrong number of objective values.
	ErrBadHistory = errors.New("search: inconsistent history")
)

// ParamError is an error about one parameter of a space; Err wraps one of the sentinel
// errors above.
type ParamError struct {
	Index int    // position in Space.Params
	Name  string // the parameter's name (may be empty)
	Err   error
}

// Error returns `search: parameter "NAME": …` (or `parameter #INDEX` when unnamed).
func (e *ParamError) Error() string {
	msg := strings.TrimPrefix(e.Err.Error(), "search: ")
	if e.Name == "" {
		return fmt.Sprintf("search: parameter #%d: %s", e.Index, msg)
	}
	return fmt.Sprintf("search: parameter %q: %s", e.Name, msg)
}

// Unwrap returns Err.
func (e *ParamError) Unwrap() error { return e.Err }
