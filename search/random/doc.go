// Package random is the random-search sampler: every trial draws each parameter
// independently from its prior ([search.Param.Uniform]): uniform over a Float range, an
// Int range or a stepped grid (every grid value equally likely), log-uniform over a
// LogFloat range, uniform over a categorical's choices. It ignores the history, so trial
// n's parameters depend on the seed and n only.
//
// Defaults: seed 0.
package random
