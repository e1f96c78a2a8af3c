package tpe

import "errors"

// Sentinel errors; check them with errors.Is. Invalid spaces, directions and histories
// fail with the search package's errors, wrapped as "tpe: sample trial N: …".
var (
	// ErrOption marks an invalid option value given to [New].
	ErrOption = errors.New("tpe: invalid option")
	// ErrScalarization marks a study with several objectives and no WithObjective or
	// WithWeightedSum, or a scalarization that does not fit the study's objectives.
	ErrScalarization = errors.New("tpe: cannot scalarize the objectives")
)
