// Package tpe is the Tree-structured Parzen Estimator sampler (Bergstra et al., "Algorithms
// for hyper-parameter optimization", NIPS 2011) for single-objective and constrained
// search, built on goptuna's tpe package (github.com/c-bata/goptuna/tpe, v0.9.0).
//
// # Algorithm
//
// The usable Complete trials (search.Completed) are ranked by a scalar score (see below);
// the best gamma(n) of them (goptuna's DefaultGamma: ⌈n/10⌉, at most 25) form the "below"
// group and the rest the "above" group. For each parameter independently, in the space's
// order, TPE fits one Parzen estimator to each group, draws candidates from the below
// estimator and keeps the candidate maximizing l(x)/g(x), the ratio of the below and
// above densities. Numeric parameters use goptuna's Parzen estimator (tpe.NewParzenEstimator:
// a Gaussian per observation with neighbour-gap bandwidths clipped by the "magic clip",
// plus a prior Gaussian over the whole range with weight 1, and goptuna's
// DefaultWeights, which give older observations lower weight once there are more than
// 25); LogFloat parameters are modelled in log scale; Int and stepped Float parameters
// over [Low − Step/2, High + Step/2] with the probability mass of each step's bin.
// Categorical parameters use weighted choice counts plus the prior weight. Until
// WithStartupTrials usable trials exist (default 10), trials are drawn at random.
//
// # Scalarization and constraints
//
// With one objective, the score is its value (negated when maximized). A study with
// several objectives needs WithObjective(j), which optimizes objective j alone, or
// WithWeightedSum(w), which minimizes Σ w_j·s_j·v_j with s_j = +1 for a minimized and −1
// for a maximized objective. When trials carry constraints, feasible trials rank first by
// score and infeasible ones after them by increasing total violation (Deb's rule), so that
// "minimize latency with accuracy drop ≤ δ" is WithObjective(latency) plus the constraint
// drop − δ ≤ 0. The below group then holds the best feasible trials, or while few are
// feasible, the least infeasible ones.
//
// # Why not goptuna's tpe.Sampler itself
//
// goptuna v0.9.0's tpe.Sampler cannot give reproducible trials: it draws the mixture
// component (internal/random.ArgMaxMultinomial) and categorical candidates
// (internal/random.Multinomial) from math/rand's global source, which Go seeds randomly
// and whose Seed is a no-op since Go 1.24; its random start-up sampler does the same for
// categorical parameters. Its truncated-mixture log density computes the acceptance
// probability as Σ w_i·Φ_i(high) − Φ_i(low), which can turn negative and make every score
// NaN, and tpe.NewParzenEstimator returns mixture components in the wrong order unless its
// input is already sorted (it sorts its argument in place through gonum's floats.Argsort,
// then indexes the sorted slice with the original positions). This package therefore
// calls tpe.NewParzenEstimator with sorted observations and weights permuted to match,
// and draws, scores and handles categorical parameters itself, with the random source
// search.NewRand(seed, number) of each trial.
//
// # Defaults
//
// Seed 0, 10 start-up trials, 24 candidates, goptuna's DefaultGamma and DefaultWeights,
// prior weight 1, magic clip on, endpoints off (goptuna's and Optuna's defaults).
package tpe
