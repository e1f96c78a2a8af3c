package calibration

import "errors"

// Sentinel errors; check them with errors.Is.
var (
	// ErrRefused marks a parameter set that tfhe-go cannot run (for example an LWE
	// dimension larger than k·N, or a precision the lookup table cannot hold).
	ErrRefused = errors.New("calibration: tfhe-go refuses the parameter set")
	// ErrNoSets marks a request that leaves nothing to measure, such as an empty
	// precision range.
	ErrNoSets = errors.New("calibration: no parameter sets to measure")
	// ErrFit marks measurements the latency model cannot be fitted to.
	ErrFit = errors.New("calibration: cannot fit the latency model")
	// ErrBadProfile marks a profile payload that does not decode or is incomplete.
	ErrBadProfile = errors.New("calibration: bad profile")
)
