package report

import "errors"

// Sentinel errors; check them with errors.Is. Returned errors wrap them with the field,
// value or path at fault.
var (
	// ErrInvalidStudy marks study data that cannot be plotted: a non-finite or
	// out-of-range value, a duplicate trial number, a pick of a trial that is not complete.
	ErrInvalidStudy = errors.New("report: invalid study data")
	// ErrUnknownFormat marks an output format other than png or svg.
	ErrUnknownFormat = errors.New("report: unknown format")
	// ErrOutputDir marks an output directory that cannot be created or written.
	ErrOutputDir = errors.New("report: cannot write output directory")
)
