package grid

import "errors"

// Sentinel errors; check them with errors.Is. Invalid spaces and directions fail with the
// search package's errors, wrapped as "grid: …".
var (
	// ErrOption marks an invalid option value given to [New].
	ErrOption = errors.New("grid: invalid option")
	// ErrExhausted marks a trial number at or past the size of the grid.
	ErrExhausted = errors.New("grid: grid exhausted")
	// ErrTooLarge marks a grid with more points than the limit set by WithMaxSize.
	ErrTooLarge = errors.New("grid: grid too large")
)
