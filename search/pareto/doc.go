// Package pareto holds the Pareto math of multi-objective search as pure functions over
// points given as [][]float64, one row per point and one column per objective, each
// objective with a [Direction]: dominance (plain and with Deb's constraint-domination),
// non-dominated sorting into fronts, crowding distance and hypervolume (an exact sweep in
// two dimensions and the exact WFG recursion in any dimension).
//
// Conventions: every row must have one value per direction; a row of another length is a
// programmer error and panics with a message naming the row. Values must not be NaN (the
// samplers of package search drop trials with non-finite values before calling here).
// Constraint violations are totals, 0 for a feasible point and positive otherwise (NaN
// counts as +Inf). Functions never modify their arguments and return indices into the
// points they were given, in increasing order within a front.
//
// This package imports only the standard library, so the study store and the report may
// use it without the samplers.
package pareto
