// Package grid is the grid-search sampler: the full factorial of the discretized space.
//
// Each parameter contributes an axis: every value of a discrete parameter (all choices,
// all integers or grid steps of an Int or stepped Float), and for a continuous one the
// number of points set by WithPoints (default 5), evenly spaced from Low to High
// inclusive, in log scale for LogFloat. The grid is the Cartesian product of the axes, of
// size [Sampler.Size].
//
// Trial n takes grid point perm(n), where perm is a permutation of the grid fixed by the
// seed (so that a study stopped early has covered the grid evenly), or the identity with
// WithShuffle(false) (lexicographic order, the last parameter varying fastest). The
// history is not read: trial numbers 0 … Size−1 visit every point exactly once, whatever
// happened to the trials. A trial number ≥ Size fails with ErrExhausted rather than
// wrapping around, so a study driver should cap its trial count at Size.
//
// Defaults: seed 0, 5 points per continuous axis, shuffled order, at most 1,000,000 grid
// points (larger grids fail with ErrTooLarge; raise the limit with WithMaxSize).
package grid
