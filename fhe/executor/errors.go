package executor

import "errors"

// Sentinel errors; check them with errors.Is.
var (
	// ErrKeysTooLarge marks keys that would exceed the memory allowed for them.
	ErrKeysTooLarge = errors.New("executor: keys too large")
	// ErrInput marks a solution that is not the circuit's, or a sample of the wrong size.
	ErrInput = errors.New("executor: bad input")
)
