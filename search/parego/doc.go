// Package parego is a Gaussian-process sampler for studies whose budget is tens of
// trials, where a model of the landscape finds a front that NSGA-II's generations cannot
// reach in time. For two objectives it maximizes the expected hypervolume improvement
// (EHVI) of one Gaussian process per objective; otherwise, and on request
// ([WithAcquisition]), it is ParEGO (J. Knowles, "ParEGO: a hybrid algorithm with
// on-line landscape approximation for expensive multiobjective optimization problems",
// IEEE TEVC 2006): a Gaussian process of a random scalarization of the objectives, and
// its expected improvement. Either acquisition is weighted by a model of where
// evaluations fail.
//
// # Algorithm
//
// The first start-up trials (default 12) are drawn from the parameters' priors. After
// that, for trial n, with the usable Complete trials (search.Completed) in the unit cube
// of the parameters ([search.Param.ToUnit]):
//
// Expected hypervolume improvement (two objectives, no trial violating a constraint,
// the default):
//
//   - Each objective is transformed, oriented so that lower is better and normalized to
//     [0, 1] over the trials: an objective whose values all lie in [0, 1] (an accuracy)
//     is taken as its logit (clamped to [1e-3, 1 − 1e-3]), so that a smooth model sees
//     both the steep fall at few bits and the last gains near 1, and an objective whose
//     positive values span more than two decades (a latency) in log scale, as fhetune's
//     hypervolume takes it.
//   - A Gaussian process (below) is fitted to each objective of the trials of the first
//     non-dominated fronts, at most 100 of them.
//   - The acquisition is the exact expected improvement of the hypervolume of the
//     non-dominated trials with reference point (1.1, 1.1), the two predictions taken as
//     independent Gaussians (closed form: Emmerich, Deutz and Klinkenberg, CEC 2011),
//     and the elites whose perturbations are candidates are the non-dominated trials.
//
// ParEGO (one or three or more objectives, a violated constraint, or Tchebycheff):
//
//   - Each objective is normalized to [0, 1] with 0 best; an objective whose positive
//     values span more than two decades (a latency) is taken in log scale first.
//   - A weight vector λ is drawn for the trial: for two objectives one of Knowles' 11
//     evenly spaced vectors (k/10, 1 − k/10), otherwise uniform on the simplex. Each trial
//     gets the augmented Tchebycheff value max_j λ_j f_j + 0.05 Σ_j λ_j f_j; an infeasible
//     trial (constraints > 0) gets 1 + its total violation, worse than any feasible one.
//   - A Gaussian process is fitted to these values of at most the 100 best trials; the
//     acquisition is the expected improvement over the best value, and the elites are
//     the 5 best trials.
//
// In both:
//
//   - The Gaussian processes have a squared-exponential kernel with one length scale per
//     parameter (automatic relevance determination) and are fitted to standardized
//     values. Length scales and noise maximize the marginal likelihood: first a common
//     length scale and the noise on a grid, then two passes of coordinate search over
//     each parameter's length scale (×½, ×2, ×4).
//   - Failed trials (search.Fail, with their parameters; fhetune's knobs with no FHE
//     circuit) are not evaluated, so a model of the objectives alone proposes their
//     region again and again. A further Gaussian process is fitted to +1 at the model's
//     trials and −1 at the latest 100 failed ones, and Φ(μ/σ) of its prediction is taken
//     as the probability that an evaluation succeeds; the acquisition is multiplied by
//     it. Without failed trials it is 1.
//   - The next trial is the candidate of greatest weighted acquisition: the candidates
//     (default 2,000) alternate between uniform points of the unit cube and Gaussian
//     perturbations (σ 0.05 per coordinate, each coordinate with probability ½) of a
//     random elite, each snapped to a value of its parameter.
//
// On fhetune's post-training digits study (60 trials, 8 seeds), EHVI with the logit of
// accuracy and the failure model reaches 99.2% (seeds 0–7) and 98.7% (seeds 8–15) of the
// hypervolume of a 3,000-trial random front, against 96.0% and 97.0% for ParEGO without
// the failure model and 97.5% and 98.1% with it. Without the failure model EHVI was
// unstable (95.2% and 95.8%; one seed lost 46 of its 60 trials to failures), and
// without the logit it was no better than ParEGO (97.5% and 97.6%).
//
// Knowles maximizes the expected improvement with a small evolutionary algorithm and fits
// a DACE model; the candidate search and the Gaussian processes here are simpler.
//
// Random numbers come from search.NewRand(seed, n), so a trial depends on the seed, its
// number and the history alone; with several workers, only one worker reproduces a run.
package parego
