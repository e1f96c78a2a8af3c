// Package searchtest holds test problems with known optima or Pareto fronts (ZDT1, ZDT2,
// Deb's constrained CONSTR, a mixed-type single-objective function) and an in-memory
// driver that runs a sampler on them, one trial at a time like a single study worker.
// The sampler packages' tests and benchmarks use it; it is not meant for production code.
//
// It imports only search and search/pareto.
package searchtest
