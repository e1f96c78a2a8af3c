package fhe

import (
	"errors"
	"fmt"
)

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

// DecodingError names the decoding of a [Graph] that no parameter set meets. It wraps
// [ErrNoSolution]; callers that map decodings back to their circuit read Index with
// errors.As.
type DecodingError struct {
	// Index is the decoding's index in Graph.Decodings, Name its name.
	Index int
	Name  string
	// Why says how far the decoding is from its bound.
	Why string
}

// Error formats the error as "fhe: no parameter set meets the constraints: graph
// decoding I ("name", ...): why".
func (e *DecodingError) Error() string {
	return fmt.Sprintf("%v: graph decoding %d (%q%s", ErrNoSolution, e.Index, e.Name, e.Why)
}

// Unwrap returns ErrNoSolution.
func (e *DecodingError) Unwrap() error { return ErrNoSolution }
