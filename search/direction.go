package search

import "github.com/fhetune/fhetune/search/pareto"

// Direction says whether an objective is minimized or maximized; it is
// [pareto.Direction], so directions pass straight to the Pareto functions.
type Direction = pareto.Direction

const (
	// Minimize prefers lower values (the zero Direction).
	Minimize = pareto.Minimize
	// Maximize prefers higher values.
	Maximize = pareto.Maximize
)
