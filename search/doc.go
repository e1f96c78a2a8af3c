// Package search holds what fhetune's optimizers share: the search space ([Space] of
// [Param]s and their distributions), the optimization [Direction] of each objective, the
// [Trial] history a sampler reads, constraint-violation helpers, the per-trial random
// source [NewRand], and the [Sampler] interface.
//
// The algorithms live in sub-packages, each exporting Sampler and New(opts ...Option):
// search/nsga2 (multi-objective genetic algorithm), search/tpe (Tree-structured Parzen
// Estimator through goptuna's tpe package), search/random and search/grid. Pareto math
// (non-dominated sort, crowding distance, hypervolume) is in search/pareto.
//
// # Values
//
// Every parameter value travels as a float64, its internal value: the number itself for
// [Int], [Float] and [LogFloat] parameters (an Int's value is a whole number), and the
// index into Choices for a [Categorical] one. [Param.Label] gives the external form.
//
// # Samplers and history
//
// A sampler is asked for the parameters of trial number n given the space, the
// directions and the whole history (trials in any state, in any order). It reads
// only Complete trials whose values are finite and whose parameters lie in the space
// (see [Completed]); running, failed and pruned trials are ignored. Each sampler derives
// trial n's random numbers from (seed, n) alone, so the same seed and the same history
// give the same parameters, whatever order trials are asked in.
//
// Constraints follow Optuna's convention: a trial carries constraint values c_i and is
// feasible when every c_i ≤ 0; its violation is Σ max(0, c_i).
//
// This package and its sub-packages know nothing of studies, storage, FHE or the CLI and
// must not import studies, tuner, fhe or cmd.
package search
