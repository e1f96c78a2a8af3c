package pareto

import "errors"

// ErrUnknownDirection marks a direction name other than "minimize" or "maximize".
var ErrUnknownDirection = errors.New("pareto: unknown direction")
