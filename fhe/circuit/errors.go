package circuit

import "errors"

// Sentinel errors; check them with errors.Is.
var (
	// ErrNetwork marks a float network description whose layers, shapes or weights do not
	// fit together, or that has a layer sequence the compiler does not handle.
	ErrNetwork = errors.New("circuit: bad network")
	// ErrConfig marks a knob out of range: bits outside 1..16, a p_error outside (0, 1),
	// both p_error and global_p_error, a bad strategy or core count.
	ErrConfig = errors.New("circuit: bad setting")
	// ErrData marks calibration or test data that cannot be used (empty, wrong width,
	// NaN or Inf, labels out of range).
	ErrData = errors.New("circuit: bad data")
	// ErrTooWide marks a TLU layer whose accumulator is wider than a TLU can take
	// (16 bits) and is not rounded, or whose integers would not stay exact.
	ErrTooWide = errors.New("circuit: accumulator too wide")
	// ErrNoParams marks a TLU layer for which no crypto parameter set exists.
	ErrNoParams = errors.New("circuit: no crypto parameter set")
	// ErrNoTLU marks a network without any activation: nothing to bootstrap, so there are
	// no crypto parameters to choose.
	ErrNoTLU = errors.New("circuit: network has no table lookup")
)

// LayerError says which layer of the circuit a failure belongs to and what to try. It
// wraps the sentinel of the failure (ErrTooWide, ErrNoParams, …) and its cause.
type LayerError struct {
	Layer string // the circuit layer name, e.g. "fc1"
	Why   string // what is wrong, with the numbers
	Hint  string // what to try, or ""
	Err   error  // the sentinel
	Cause error  // the underlying error, or nil
}

func (e *LayerError) Error() string {
	s := "circuit: layer " + e.Layer + ": " + e.Why
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Unwrap returns the sentinel and the cause, so errors.Is matches either.
func (e *LayerError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}
