package fhe

import "errors"

// Sentinel errors; check them with errors.Is.
var (
	// ErrInvalidParams marks a parameter literal that breaks a structural bound.
	ErrInvalidParams = errors.New("fhe: invalid parameters")
	// ErrUnsupportedSecurity marks a security level with no curve.
	ErrUnsupportedSecurity = errors.New("fhe: unsupported security level")
	// ErrInsecure marks a dimension below the security curve's range.
	ErrInsecure = errors.New("fhe: dimension too small to be secure")
	// ErrInvalidQuery marks an optimizer query or circuit description with a value out of
	// range (precision, p_error, norm2, sum size, TLU count, search space).
	ErrInvalidQuery = errors.New("fhe: invalid query")
	// ErrNoSolution marks a query that no parameter set of the search space satisfies.
	ErrNoSolution = errors.New("fhe: no parameter set meets the constraints")
)
