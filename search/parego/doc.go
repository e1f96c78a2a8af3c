// Package parego is the ParEGO sampler (J. Knowles, "ParEGO: a hybrid algorithm with
// on-line landscape approximation for expensive multiobjective optimization problems",
// IEEE TEVC 2006): a Gaussian-process model of a random scalarization of the
// objectives, and the trial that maximizes its expected improvement. It is meant for
// studies whose budget is tens of trials, where a model of the landscape finds a front
// that NSGA-II's generations cannot reach in time.
//
// # Algorithm
//
// The first start-up trials (default 12) are drawn from the parameters' priors. After
// that, for trial n:
//
//   - Each objective of the usable Complete trials (search.Completed) is normalized to
//     [0, 1] with 0 best; an objective whose positive values span more than two decades
//     (a latency) is taken in log scale first, as fhetune's hypervolume does.
//   - A weight vector λ is drawn for the trial: for two objectives one of Knowles' 11
//     evenly spaced vectors (k/10, 1 − k/10), otherwise uniform on the simplex. Each trial
//     gets the augmented Tchebycheff value max_j λ_j f_j + 0.05 Σ_j λ_j f_j; an infeasible
//     trial (constraints > 0) gets 1 + its total violation, worse than any feasible one.
//   - A Gaussian process with a squared-exponential kernel with one length scale per
//     parameter (automatic relevance determination) is fitted to the standardized values
//     of at most the 100 best trials, in the unit cube of the parameters
//     ([search.Param.ToUnit]). Its length scales and noise maximize the marginal
//     likelihood: first a common length scale and the noise on a grid, then two passes of
//     coordinate search over each parameter's length scale (×½, ×2, ×4).
//   - The next trial is the candidate of greatest expected improvement over the best value:
//     the candidates (default 2,000) alternate between uniform points of the unit cube and
//     Gaussian perturbations (σ 0.05 per coordinate, each coordinate with probability ½)
//     of one of the 5 best trials, each snapped to a value of its parameter.
//
// Knowles maximizes the expected improvement with a small evolutionary algorithm and fits
// a DACE model; the candidate search and the GP here are simpler and, on fhetune's
// post-training digits study, reach the same front in 60 trials over 16 seeds within a
// point (README, Performance).
//
// Random numbers come from search.NewRand(seed, n), so a trial depends on the seed, its
// number and the history alone; with several workers, only one worker reproduces a run.
package parego
